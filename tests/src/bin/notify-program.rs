//! A program started by `daemonic start --notify-await` in the tests: reports on
//! `NOTIFY_SOCKET` as told, then sleeps until killed.
//!
//! `notify-program [--status TEXT] [--ready-after-ms N] [--marker PATH] [--exit CODE]`:
//! sends `STATUS=TEXT`; then, with `--exit`, exits with CODE; else after N ms creates PATH and
//! sends `READY=1` (without `--ready-after-ms`: never sends it).

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut status, mut ready_after, mut marker, mut exit) = (None, None, None, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("option value");
        match arg.as_str() {
            "--status" => status = Some(value()),
            "--ready-after-ms" => ready_after = Some(Duration::from_millis(value().parse().unwrap())),
            "--marker" => marker = Some(value()),
            "--exit" => exit = Some(value().parse::<i32>().unwrap()),
            other => panic!("unknown argument {other}"),
        }
    }
    let socket_path = std::env::var_os("NOTIFY_SOCKET").expect("NOTIFY_SOCKET is set");
    let socket = UnixDatagram::unbound().unwrap();
    if let Some(status) = status {
        socket.send_to(format!("STATUS={status}\n").as_bytes(), &socket_path).unwrap();
    }
    if let Some(code) = exit {
        std::process::exit(code);
    }
    if let Some(delay) = ready_after {
        std::thread::sleep(delay);
        if let Some(marker) = marker {
            std::fs::write(marker, "").unwrap();
        }
        socket.send_to(b"READY=1\nSTATUS=serving\n", &socket_path).unwrap();
    }
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}
