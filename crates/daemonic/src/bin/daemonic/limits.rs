//! PROGRAM's resource limits and scheduling: `--limit`, `--ionice`, `--oom-score-adj`,
//! `--no-new-privileges`. Parsed and prepared before `fork`; applied in the child before the
//! privilege drop (raising a hard limit, lowering the OOM score, the realtime I/O class need
//! root), with system calls only.

use std::io;

use rustix::process::{Resource, Rlimit};

/// `--limit RESOURCE=SOFT[:HARD]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    pub(crate) resource: Resource,
    pub(crate) name: &'static str,
    /// `None`: unlimited.
    pub(crate) soft: Option<u64>,
    pub(crate) hard: Option<u64>,
}

/// The resources `--limit` knows, by their `prlimit(1)`/`ulimit` names.
const RESOURCES: &[(&str, Resource)] = &[
    ("cpu", Resource::Cpu),
    ("fsize", Resource::Fsize),
    ("data", Resource::Data),
    ("stack", Resource::Stack),
    ("core", Resource::Core),
    ("nproc", Resource::Nproc),
    ("nofile", Resource::Nofile),
    ("memlock", Resource::Memlock),
    #[cfg(not(target_os = "openbsd"))]
    ("as", Resource::As),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    ("rss", Resource::Rss),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    ("locks", Resource::Locks),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    ("sigpending", Resource::Sigpending),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    ("msgqueue", Resource::Msgqueue),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    ("nice", Resource::Nice),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    ("rtprio", Resource::Rtprio),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    ("rttime", Resource::Rttime),
];

/// `RESOURCE=SOFT[:HARD]`: numbers (bytes, seconds for `cpu`, counts) or `unlimited`
/// (`infinity`); `SOFT` alone sets both, as systemd's `LimitNOFILE=` does.
pub(crate) fn parse_limit(value: &str) -> Result<Limit, String> {
    let bad = |why: String| format!("--limit {value:?}: {why}");
    let (name, values) = value.split_once('=').ok_or_else(|| bad("expected RESOURCE=SOFT[:HARD]".into()))?;
    let name = name.to_ascii_lowercase();
    let (name, resource) =
        RESOURCES.iter().find(|(known, _)| *known == name.trim_start_matches("rlimit_")).copied().ok_or_else(|| {
            let known: Vec<&str> = RESOURCES.iter().map(|(n, _)| *n).collect();
            bad(format!("unknown resource (expected one of {})", known.join(", ")))
        })?;
    let number = |text: &str| -> Result<Option<u64>, String> {
        match text {
            "unlimited" | "infinity" => Ok(None),
            _ if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                text.parse::<u64>().map(Some).map_err(|_| bad(format!("{text:?} is too large")))
            }
            _ => Err(bad(format!("{text:?} is not a number or unlimited"))),
        }
    };
    let (soft, hard) = match values.split_once(':') {
        Some((soft, hard)) => (number(soft)?, number(hard)?),
        None => {
            let both = number(values)?;
            (both, both)
        }
    };
    if let (Some(soft), Some(hard)) = (soft, hard) {
        if soft > hard {
            return Err(bad("the soft limit is above the hard one".into()));
        }
    }
    if soft.is_none() && hard.is_some() {
        return Err(bad("an unlimited soft limit needs an unlimited hard one".into()));
    }
    Ok(Limit { resource, name, soft, hard })
}

/// `--ionice CLASS[:LEVEL]`: the I/O scheduling class and level (Linux `ioprio_set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IoPriority {
    pub(crate) class: u8,
    pub(crate) level: u8,
}

/// `realtime`, `best-effort` or `idle` (or 1, 2, 3), with a level 0 (highest) .. 7 (default 4;
/// none for `idle`).
pub(crate) fn parse_ionice(value: &str) -> Result<IoPriority, String> {
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return Err("--ionice: I/O scheduling classes exist on Linux only".into());
    }
    let bad = || format!("--ionice {value:?}: expected realtime, best-effort or idle, with :0 .. :7");
    let (class, level) = value.split_once(':').map_or((value, None), |(c, l)| (c, Some(l)));
    let class = match class {
        "realtime" | "rt" | "1" => 1,
        "best-effort" | "be" | "2" => 2,
        "idle" | "3" => 3,
        _ => return Err(bad()),
    };
    let level = match level {
        None => 4,
        Some(level) => level.parse::<u8>().ok().filter(|l| *l <= 7 && class != 3).ok_or_else(bad)?,
    };
    Ok(IoPriority { class, level: if class == 3 { 0 } else { level } })
}

/// `--oom-score-adj N`, -1000 .. 1000 (Linux).
pub(crate) fn parse_oom_score_adj(value: &str) -> Result<i32, String> {
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return Err("--oom-score-adj: the OOM score exists on Linux only".into());
    }
    value
        .parse::<i32>()
        .ok()
        .filter(|n| (-1000..=1000).contains(n))
        .ok_or(format!("--oom-score-adj {value:?}: not a number from -1000 to 1000"))
}

/// `--no-new-privileges` is possible here: Linux `PR_SET_NO_NEW_PRIVS`, FreeBSD (14 and later)
/// `procctl(PROC_NO_NEW_PRIVS_CTL)`; refused elsewhere rather than silently ignored.
pub(crate) fn check_no_new_privileges() -> Result<(), String> {
    if cfg!(any(target_os = "linux", target_os = "android", target_os = "freebsd")) {
        Ok(())
    } else {
        Err("--no-new-privileges is supported on Linux and FreeBSD only".into())
    }
}

/// What is applied to PROGRAM in the child, prepared before `fork` so that applying it only
/// makes system calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProgramSettings {
    pub(crate) limits: Vec<Limit>,
    pub(crate) ionice: Option<IoPriority>,
    /// The value, as the bytes written to `/proc/self/oom_score_adj`.
    pub(crate) oom_score_adj: Option<i32>,
    pub(crate) no_new_privileges: bool,
}

/// Which setting failed in the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failed {
    /// The limit at this index of `limits`.
    Limit(usize),
    Ionice,
    OomScoreAdj,
    NoNewPrivileges,
}

impl ProgramSettings {
    /// The text written to `/proc/self/oom_score_adj`, prepared before `fork`.
    pub(crate) fn oom_text(&self) -> Option<Vec<u8>> {
        self.oom_score_adj.map(|n| format!("{n}\n").into_bytes())
    }

    /// Limits, I/O priority and OOM score: before the privilege drop. Async-signal-safe
    /// (`setrlimit`, `ioprio_set`, `open`/`write`/`close` of a path given as a C string).
    pub(crate) fn apply_before_drop(&self, oom_text: Option<&[u8]>) -> Result<(), (Failed, io::Error)> {
        for (index, limit) in self.limits.iter().enumerate() {
            rustix::process::setrlimit(limit.resource, Rlimit { current: limit.soft, maximum: limit.hard })
                .map_err(|e| (Failed::Limit(index), e.into()))?;
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(priority) = self.ionice {
            const IOPRIO_WHO_PROCESS: libc::c_long = 1;
            const IOPRIO_CLASS_SHIFT: u32 = 13;
            let value = (u32::from(priority.class) << IOPRIO_CLASS_SHIFT) | u32::from(priority.level);
            // SAFETY: `ioprio_set(IOPRIO_WHO_PROCESS, 0, prio)` takes integers only and
            // changes this process's I/O priority; libc has no wrapper for it, nor rustix.
            let ret = unsafe {
                libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0 as libc::c_long, value as libc::c_long)
            };
            if ret != 0 {
                return Err((Failed::Ionice, io::Error::last_os_error()));
            }
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(text) = oom_text {
            let fail = |e: rustix::io::Errno| (Failed::OomScoreAdj, io::Error::from(e));
            let file = rustix::fs::open(
                c"/proc/self/oom_score_adj",
                rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(fail)?;
            rustix::io::write(&file, text).map_err(fail)?;
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = oom_text;
        Ok(())
    }

    /// `--no-new-privileges`: after the drop, just before `exec`. Async-signal-safe (one
    /// system call).
    pub(crate) fn apply_before_exec(&self) -> Result<(), (Failed, io::Error)> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.no_new_privileges {
            // SAFETY: `prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)` takes integers only; the flag is
            // inherited across `fork` and `execve` and cannot be unset.
            let ret = unsafe {
                libc::prctl(
                    libc::PR_SET_NO_NEW_PRIVS,
                    1 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                )
            };
            if ret != 0 {
                return Err((Failed::NoNewPrivileges, io::Error::last_os_error()));
            }
        }
        #[cfg(target_os = "freebsd")]
        if self.no_new_privileges {
            let mut enable: libc::c_int = libc::PROC_NO_NEW_PRIVS_ENABLE;
            // SAFETY: `procctl(P_PID, 0, PROC_NO_NEW_PRIVS_CTL, &enable)` on this process;
            // `enable` lives for the call. FreeBSD before 14 answers EINVAL, reported.
            let ret = unsafe {
                libc::procctl(libc::P_PID, 0, libc::PROC_NO_NEW_PRIVS_CTL, (&mut enable as *mut libc::c_int).cast())
            };
            if ret != 0 {
                return Err((Failed::NoNewPrivileges, io::Error::last_os_error()));
            }
        }
        Ok(())
    }

    /// The message for a failure: `cannot set --limit nofile=...: Operation not permitted`.
    pub(crate) fn describe(&self, failed: Failed) -> String {
        match failed {
            Failed::Limit(index) => match self.limits.get(index) {
                Some(limit) => {
                    let show = |v: Option<u64>| v.map_or_else(|| "unlimited".to_owned(), |v| v.to_string());
                    format!("cannot set --limit {}={}:{}", limit.name, show(limit.soft), show(limit.hard))
                }
                None => "cannot set a --limit".to_owned(),
            },
            Failed::Ionice => "cannot set --ionice".to_owned(),
            Failed::OomScoreAdj => format!("cannot set --oom-score-adj {}", self.oom_score_adj.unwrap_or_default()),
            Failed::NoNewPrivileges => "cannot set --no-new-privileges".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_like_prlimit() {
        let limit = parse_limit("nofile=1024:4096").unwrap();
        assert_eq!((limit.resource, limit.soft, limit.hard), (Resource::Nofile, Some(1024), Some(4096)));
        let limit = parse_limit("core=unlimited").unwrap();
        assert_eq!((limit.soft, limit.hard), (None, None));
        let limit = parse_limit("NOFILE=64").unwrap();
        assert_eq!((limit.soft, limit.hard), (Some(64), Some(64)));
        assert_eq!(parse_limit("stack=8388608:unlimited").unwrap().hard, None);
        for bad in ["nofile", "nofile=", "nofile=x", "files=1", "nofile=9:1", "nofile=unlimited:5", "nofile=-1", "=5"] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn ionice_classes_and_levels() {
        assert_eq!(parse_ionice("idle"), Ok(IoPriority { class: 3, level: 0 }));
        assert_eq!(parse_ionice("best-effort:7"), Ok(IoPriority { class: 2, level: 7 }));
        assert_eq!(parse_ionice("realtime"), Ok(IoPriority { class: 1, level: 4 }));
        for bad in ["", "fast", "be:8", "idle:3", "be:-1"] {
            assert!(parse_ionice(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_oom_score_adj("-1000"), Ok(-1000));
        assert!(parse_oom_score_adj("1001").is_err());
    }

    #[test]
    fn every_resource_by_its_name() {
        for (name, resource) in RESOURCES {
            let limit = parse_limit(&format!("{name}=5")).unwrap();
            assert_eq!((limit.resource, limit.name), (*resource, *name));
            assert_eq!(parse_limit(&format!("RLIMIT_{}=5", name.to_uppercase())).unwrap().resource, *resource);
        }
        let limit = parse_limit("nofile=infinity:infinity").unwrap();
        assert_eq!((limit.soft, limit.hard), (None, None));
        let limit = parse_limit("nofile=0:18446744073709551615").unwrap();
        assert_eq!((limit.soft, limit.hard), (Some(0), Some(u64::MAX)));
        assert_eq!(parse_limit("nofile=7:7").map(|l| (l.soft, l.hard)), Ok((Some(7), Some(7))));
    }

    #[test]
    fn limit_errors_say_what_is_wrong() {
        let error = |value: &str| parse_limit(value).unwrap_err();
        assert_eq!(error("nofile"), "--limit \"nofile\": expected RESOURCE=SOFT[:HARD]");
        assert!(error("files=1").starts_with("--limit \"files=1\": unknown resource (expected one of cpu, fsize, "));
        assert_eq!(error("nofile=x"), "--limit \"nofile=x\": \"x\" is not a number or unlimited");
        assert_eq!(error("nofile=1:"), "--limit \"nofile=1:\": \"\" is not a number or unlimited");
        assert_eq!(error("nofile=+1"), "--limit \"nofile=+1\": \"+1\" is not a number or unlimited");
        assert_eq!(
            error("nofile=18446744073709551616"),
            "--limit \"nofile=18446744073709551616\": \"18446744073709551616\" is too large"
        );
        assert_eq!(error("nofile=9:8"), "--limit \"nofile=9:8\": the soft limit is above the hard one");
        assert_eq!(
            error("nofile=unlimited:8"),
            "--limit \"nofile=unlimited:8\": an unlimited soft limit needs an unlimited hard one"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn ionice_by_name_alias_or_number() {
        for (value, class, level) in [
            ("realtime:0", 1, 0),
            ("rt:7", 1, 7),
            ("1", 1, 4),
            ("best-effort", 2, 4),
            ("be:3", 2, 3),
            ("2:0", 2, 0),
            ("3", 3, 0),
        ] {
            assert_eq!(parse_ionice(value), Ok(IoPriority { class, level }), "{value}");
        }
        for bad in ["4", "0", "idle:0", "rt:", "be:x", "Idle"] {
            assert_eq!(
                parse_ionice(bad),
                Err(format!("--ionice {bad:?}: expected realtime, best-effort or idle, with :0 .. :7"))
            );
        }
        assert_eq!(parse_oom_score_adj("1000"), Ok(1000));
        assert_eq!(parse_oom_score_adj("0"), Ok(0));
        for bad in ["-1001", "x", ""] {
            assert_eq!(
                parse_oom_score_adj(bad),
                Err(format!("--oom-score-adj {bad:?}: not a number from -1000 to 1000"))
            );
        }
        assert_eq!(check_no_new_privileges(), Ok(()));
    }

    #[test]
    fn what_failed_is_told() {
        let settings = ProgramSettings {
            limits: vec![parse_limit("nofile=10:20").unwrap(), parse_limit("core=unlimited").unwrap()],
            ionice: None,
            oom_score_adj: Some(-500),
            no_new_privileges: true,
        };
        assert_eq!(settings.describe(Failed::Limit(0)), "cannot set --limit nofile=10:20");
        assert_eq!(settings.describe(Failed::Limit(1)), "cannot set --limit core=unlimited:unlimited");
        assert_eq!(settings.describe(Failed::Limit(2)), "cannot set a --limit");
        assert_eq!(settings.describe(Failed::Ionice), "cannot set --ionice");
        assert_eq!(settings.describe(Failed::OomScoreAdj), "cannot set --oom-score-adj -500");
        assert_eq!(settings.describe(Failed::NoNewPrivileges), "cannot set --no-new-privileges");
        assert_eq!(settings.oom_text(), Some(b"-500\n".to_vec()));
        assert_eq!(ProgramSettings::default().oom_text(), None);
    }
}
