//! [`ParentDir`]: the directory a PID file lives in, reached without following any symbolic
//! link another user could have planted, and kept open so that every later lookup is relative
//! to it.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, CWD};
use rustix::io::Errno;

/// Symbolic links followed in one walk before giving up with `ELOOP`, as Linux's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// How each directory on the way is opened. `O_PATH` (Linux, Android) needs only search
/// permission, as a path lookup does; elsewhere `O_RDONLY` needs read permission too.
#[cfg(any(target_os = "linux", target_os = "android"))]
const DIR_OPEN: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const DIR_OPEN: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// The open directory that contains a path's last component, and that component's name.
///
/// [`ParentDir::open`] walks the path one component at a time, each opened relative to the
/// descriptor of the directory before it, and keeps the last directory open. Everything the
/// crate then does to the PID file — open, re-check, unlink — is relative to that descriptor
/// (`openat`, `fstatat`, `unlinkat`): renaming or replacing a directory on the way, or swapping
/// it for a symbolic link, after the walk can no longer redirect a check, a write or an unlink.
///
/// # The rule: which symbolic links are followed
///
/// **A symbolic link on the way is followed only where no other user could have put it**:
///
/// - in a directory owned by root or by the calling process's effective uid that neither its
///   group nor others can write (`/var/run -> /run`, a root-owned link in root-owned `/var`);
/// - or in a sticky directory (`/tmp`, mode `1777`) owned by root or by the caller, when the
///   link itself is owned by root or by the caller: in a sticky directory only the link's owner
///   and the directory's owner can remove or rename the link.
///
/// Any other link is refused with a [`PermissionDenied`](io::ErrorKind::PermissionDenied)
/// error that names the link and says why, for example
/// `/tmp/x/logs is a symbolic link in a directory that uid 65534 can write; not followed`.
///
/// Why that is enough: directories themselves are never followed blindly either, but they need
/// no rule. A user who can write a directory on the way can rename entries in it, or create new
/// ones, but `rename(2)` of a directory needs write permission on that directory too (its `..`
/// entry changes), and a new directory is the user's own. Without following that user's
/// links, they can only redirect the walk into directories they could already write — where
/// they could have created or removed the file anyway.
///
/// # How
///
/// On Linux, first one `openat2(AT_FDCWD, parent, O_PATH|O_DIRECTORY|O_CLOEXEC,
/// RESOLVE_NO_SYMLINKS)`: a path without any link is resolved by the kernel in one call.
/// If it fails (a link on the way, an older kernel, a seccomp filter), and on every other
/// platform, the walk is done by hand: each component with `openat(dirfd, name,
/// O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC)`; `.` is skipped, `..` is `openat(dirfd, "..")`; a
/// component that is a symbolic link (`fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)` says so when
/// the open fails: `ELOOP` on Linux, `EMLINK` on FreeBSD, `EFTYPE` on NetBSD, or `ENOTDIR`) is
/// judged by the rule above, read with `readlinkat(dirfd, name)` and spliced in: an absolute
/// target restarts from `/`, a relative one continues from `dirfd`. At most 40 links are
/// followed (`ELOOP`). A relative path starts at the current directory.
///
/// # Platform notes
///
/// Linux and Android open each directory with `O_PATH`, so a directory with search but no read
/// permission (`--x`) can be on the way, as for any path lookup. Elsewhere directories are
/// opened `O_RDONLY`, which also needs read permission on each of them.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
///
/// let dir = tempfile::tempdir()?;
/// let parent = pidfile::ParentDir::open(dir.path().join("app.pid"))?;
/// assert_eq!(parent.name(), "app.pid");
/// assert_eq!(parent.path(), dir.path().join("app.pid"));
/// // The descriptor is the directory: lookups relative to it find what the directory holds.
/// std::fs::write(dir.path().join("app.pid"), "42\n")?;
/// let stat = rustix::fs::statat(parent.as_fd(), parent.name(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
/// assert_eq!(stat.st_size, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ParentDir {
    fd: OwnedFd,
    name: OsString,
    path: PathBuf,
}

impl ParentDir {
    /// Opens the directory that will contain `path`'s last component, following no symbolic
    /// link another user could have planted (see [the rule](ParentDir#the-rule-which-symbolic-links-are-followed)).
    ///
    /// The last component itself is not looked at: it may not exist yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// std::fs::create_dir(dir.path().join("run"))?;
    /// let parent = pidfile::ParentDir::open(dir.path().join("run/../run/./app.pid"))?;
    /// assert_eq!(parent.name(), "app.pid");
    ///
    /// let err = pidfile::ParentDir::open(dir.path().join("run/")).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`InvalidInput`](io::ErrorKind::InvalidInput) when the path's last component is no
    ///   file name: `""`, `/`, a path ending in `/`, `.` or `..`;
    /// - [`PermissionDenied`](io::ErrorKind::PermissionDenied) for a symbolic link the rule
    ///   refuses (the message names it and says why), or a directory that cannot be searched;
    /// - `ELOOP` after 40 symbolic links;
    /// - any other error of `openat`, `fstatat`, `readlinkat` or `getcwd`, with the kind of the
    ///   OS error and a message naming the component that failed.
    ///
    /// # References
    ///  - [Linux `openat2(2)`](https://man7.org/linux/man-pages/man2/openat2.2.html)
    ///  - [POSIX `openat`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/open.html)
    ///  - [POSIX `readlinkat`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/readlink.html)
    ///  - [FreeBSD `open(2)`](https://man.freebsd.org/cgi/man.cgi?query=open&sektion=2)
    ///  - [OpenBSD `open(2)`](https://man.openbsd.org/open.2)
    pub fn open(path: impl AsRef<Path>) -> io::Result<ParentDir> {
        let path = path.as_ref();
        let bytes = path.as_os_str().as_bytes();
        let (parent, name) = match bytes.iter().rposition(|&b| b == b'/') {
            Some(0) => (&b"/"[..], &bytes[1..]),
            Some(slash) => (&bytes[..slash], &bytes[slash + 1..]),
            None => (&b"."[..], bytes),
        };
        if matches!(name, b"" | b"." | b"..") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("\"{}\" names a directory, not a file", path.display()),
            ));
        }
        let (absolute, start) = if path.is_absolute() {
            (path.to_path_buf(), PathBuf::from("/"))
        } else {
            let cwd = std::env::current_dir().map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot resolve {} against the current directory: {e}", path.display()),
                )
            })?;
            (cwd.join(path), cwd)
        };
        let fd = open_dir(OsStr::from_bytes(parent), &start, &absolute)?;
        Ok(ParentDir { fd, name: OsStr::from_bytes(name).to_os_string(), path: absolute })
    }

    /// The last component of the path: the name of the file in this directory.
    ///
    /// # Examples
    ///
    /// ```
    /// let parent = pidfile::ParentDir::open("/tmp/app.pid")?;
    /// assert_eq!(parent.name(), "app.pid");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> &OsStr {
        &self.name
    }

    /// The whole path as given, made absolute (a relative path joined to the current directory
    /// at the time of [`open`](ParentDir::open)); for messages, not for lookups.
    ///
    /// # Examples
    ///
    /// ```
    /// let parent = pidfile::ParentDir::open("app.pid")?;
    /// assert_eq!(parent.path(), std::env::current_dir()?.join("app.pid"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AsFd for ParentDir {
    /// The directory's descriptor (`O_PATH` on Linux and Android, `O_RDONLY` elsewhere;
    /// close-on-exec).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Opens `parent` (a directory path, relative to the current directory unless absolute).
/// `start` (`/` or the current directory) and `whole` (the full absolute path) are for messages.
fn open_dir(parent: &OsStr, start: &Path, whole: &Path) -> io::Result<OwnedFd> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::ResolveFlags;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        // Any failure (a link on the way: ELOOP; ENOSYS before Linux 5.6; EPERM, E2BIG, EAGAIN
        // from seccomp filters or the kernel; a missing directory) goes the slow way, which
        // also names the component that failed.
        if let Ok(fd) = rustix::fs::openat2(CWD, parent, flags, Mode::empty(), ResolveFlags::NO_SYMLINKS) {
            return Ok(fd);
        }
    }
    walk(parent, start, whole)
}

/// The walk by hand, one component at a time (see [`ParentDir`]).
fn walk(parent: &OsStr, start: &Path, whole: &Path) -> io::Result<OwnedFd> {
    let bytes = parent.as_bytes();
    // Where we are, for messages: a path of real directories (links are never pushed).
    let mut walked = start.to_path_buf();
    let mut dir = open_start(bytes.starts_with(b"/"), &walked)?;
    // Components still to walk, the next one last.
    let mut pending: Vec<OsString> = Vec::new();
    push_components(&mut pending, bytes);
    let mut links = 0;
    let euid = rustix::process::geteuid().as_raw();
    while let Some(component) = pending.pop() {
        if component.is_empty() || component == "." {
            continue;
        }
        let errno = match rustix::fs::openat(&dir, &component, DIR_OPEN, Mode::empty()) {
            Ok(next) => {
                dir = next;
                if component == ".." {
                    walked.pop();
                } else {
                    walked.push(&component);
                }
                continue;
            }
            Err(errno) => errno,
        };
        let at = walked.join(&component);
        let link = match rustix::fs::statat(&dir, &component, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode as _) == FileType::Symlink => stat,
            _ => return Err(named(&at, errno)),
        };
        links += 1;
        if links > MAX_LINKS {
            return Err(io::Error::new(
                io::Error::from(Errno::LOOP).kind(),
                format!("{}: more than {MAX_LINKS} symbolic links on the way to {}", at.display(), whole.display()),
            ));
        }
        let dir_stat = rustix::fs::fstat(&dir).map_err(|e| named(&walked, e))?;
        if let Some(why) = untrusted(&dir_stat, &link, euid) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is a symbolic link {why}; not followed", at.display()),
            ));
        }
        let target = rustix::fs::readlinkat(&dir, &component, Vec::new()).map_err(|e| named(&at, e))?;
        let target = target.as_bytes();
        if target.starts_with(b"/") {
            walked = PathBuf::from("/");
            dir = open_start(true, &walked)?;
        }
        push_components(&mut pending, target);
    }
    Ok(dir)
}

fn open_start(absolute: bool, walked: &Path) -> io::Result<OwnedFd> {
    let start = if absolute { "/" } else { "." };
    rustix::fs::openat(CWD, start, DIR_OPEN, Mode::empty()).map_err(|e| named(walked, e))
}

/// Pushes `path`'s components so that the first one is popped next.
fn push_components(pending: &mut Vec<OsString>, path: &[u8]) {
    for component in path.rsplit(|&b| b == b'/') {
        if !component.is_empty() {
            pending.push(OsString::from_vec(component.to_vec()));
        }
    }
}

/// An OS error, named by the component it happened at, keeping its kind (`PATH: No such file
/// or directory`, without std's " (os error N)", which would be printed in the middle of a
/// chain).
fn named(at: &Path, errno: Errno) -> io::Error {
    let source = io::Error::from(errno);
    let text = source.to_string();
    let text = text.rsplit_once(" (os error ").map_or(text.as_str(), |(text, _)| text);
    io::Error::new(source.kind(), format!("{}: {text}", at.display()))
}

/// Why a link (`link`, in the directory `dir`) is not followed by a process with effective uid
/// `euid`; `None` when it is trusted (see [`ParentDir`]).
fn untrusted(dir: &Stat, link: &Stat, euid: u32) -> Option<String> {
    #[allow(clippy::unnecessary_cast)] // `mode_t` is u16 on macOS and the BSDs.
    let mode = dir.st_mode as u32 & 0o7777;
    let ours = |uid: u32| uid == 0 || uid == euid;
    if !ours(dir.st_uid) {
        return Some(format!("in a directory that uid {} can write", dir.st_uid));
    }
    if mode & 0o022 == 0 {
        return None;
    }
    if mode & 0o1000 == 0 {
        return Some(format!("in a directory that its group or others can write (mode {mode:o})"));
    }
    if ours(link.st_uid) {
        return None;
    }
    Some(format!("owned by uid {}, in a sticky directory others can write (mode {mode:o})", link.st_uid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{chown, symlink, PermissionsExt};

    const NOBODY: u32 = 65534;

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    /// The directory a `ParentDir` opened, by device and inode.
    fn identity(dir: &ParentDir) -> (u64, u64) {
        let stat = rustix::fs::fstat(dir).unwrap();
        #[allow(clippy::unnecessary_cast)]
        (stat.st_dev as u64, stat.st_ino as u64)
    }

    fn identity_of(path: &Path) -> (u64, u64) {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).unwrap();
        (meta.dev(), meta.ino())
    }

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A tempdir that is ours and writable by nobody else (tempfile makes it 0700).
    fn private_tempdir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        set_mode(dir.path(), 0o755);
        dir
    }

    #[test]
    fn a_plain_path_opens_its_parent() {
        let dir = private_tempdir();
        let parent = ParentDir::open(dir.path().join("app.pid")).unwrap();
        assert_eq!(parent.name(), "app.pid");
        assert_eq!(identity(&parent), identity_of(dir.path()));
    }

    #[test]
    fn a_link_in_a_directory_only_we_can_write_is_followed() {
        // Like /var/run -> /run: our link in our own 0755 directory.
        let dir = private_tempdir();
        std::fs::create_dir(dir.path().join("run")).unwrap();
        std::fs::create_dir(dir.path().join("var")).unwrap();
        symlink("../run", dir.path().join("var/run")).unwrap();
        let parent = ParentDir::open(dir.path().join("var/run/app.pid")).unwrap();
        assert_eq!(identity(&parent), identity_of(&dir.path().join("run")));
        // Absolute targets restart from /.
        symlink(dir.path().join("run"), dir.path().join("var/abs")).unwrap();
        let parent = ParentDir::open(dir.path().join("var/abs/app.pid")).unwrap();
        assert_eq!(identity(&parent), identity_of(&dir.path().join("run")));
        // The real /var/run, where it is a link (root's, in root's /var).
        if std::fs::symlink_metadata("/var/run").is_ok_and(|m| m.file_type().is_symlink()) {
            let parent = ParentDir::open("/var/run/app.pid").unwrap();
            assert_eq!(identity(&parent), identity_of(Path::new("/var/run")));
        }
    }

    #[test]
    fn a_link_in_a_directory_others_can_write_is_refused() {
        let dir = private_tempdir();
        std::fs::create_dir(dir.path().join("run")).unwrap();
        std::fs::create_dir(dir.path().join("open")).unwrap();
        symlink("../run", dir.path().join("open/logs")).unwrap();
        set_mode(&dir.path().join("open"), 0o777);
        let err = ParentDir::open(dir.path().join("open/logs/app.pid")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
        let link = dir.path().join("open/logs");
        assert_eq!(
            err.to_string(),
            format!(
                "{} is a symbolic link in a directory that its group or others can write (mode 777); not followed",
                link.display()
            )
        );
    }

    #[test]
    fn a_link_in_another_users_directory_is_refused() {
        if !is_root() {
            eprintln!("needs root (chown); skipped");
            return;
        }
        let dir = private_tempdir();
        std::fs::create_dir(dir.path().join("run")).unwrap();
        std::fs::create_dir(dir.path().join("theirs")).unwrap();
        symlink("../run", dir.path().join("theirs/logs")).unwrap();
        chown(dir.path().join("theirs"), Some(NOBODY), Some(NOBODY)).unwrap();
        let err = ParentDir::open(dir.path().join("theirs/logs/app.pid")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(
            err.to_string(),
            format!(
                "{}/theirs/logs is a symbolic link in a directory that uid 65534 can write; not followed",
                dir.path().display()
            )
        );
        // Directories of theirs (not links) are walked through.
        std::fs::create_dir(dir.path().join("theirs/sub")).unwrap();
        assert!(ParentDir::open(dir.path().join("theirs/sub/app.pid")).is_ok());
    }

    #[test]
    fn in_a_sticky_directory_only_our_links_are_followed() {
        if !is_root() {
            eprintln!("needs root (lchown); skipped");
            return;
        }
        let dir = private_tempdir();
        std::fs::create_dir(dir.path().join("run")).unwrap();
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        set_mode(&tmp, 0o1777);
        symlink("../run", tmp.join("roots")).unwrap();
        let parent = ParentDir::open(tmp.join("roots/app.pid")).unwrap();
        assert_eq!(identity(&parent), identity_of(&dir.path().join("run")));

        symlink("../run", tmp.join("nobodys")).unwrap();
        std::os::unix::fs::lchown(tmp.join("nobodys"), Some(NOBODY), Some(NOBODY)).unwrap();
        let err = ParentDir::open(tmp.join("nobodys/app.pid")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(
            err.to_string(),
            format!(
                "{} is a symbolic link owned by uid 65534, in a sticky directory others can write (mode 1777); not followed",
                tmp.join("nobodys").display()
            )
        );
    }

    #[test]
    fn dot_dot_and_relative_paths() {
        let dir = private_tempdir();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        let parent = ParentDir::open(dir.path().join("a/b/../b/./../app.pid")).unwrap();
        assert_eq!(identity(&parent), identity_of(&dir.path().join("a")));
        // Relative: from the current directory (the test binary's: do not chdir in tests).
        let cwd = std::env::current_dir().unwrap();
        let parent = ParentDir::open("app.pid").unwrap();
        assert_eq!(identity(&parent), identity_of(&cwd));
        assert_eq!(parent.path(), cwd.join("app.pid"));
        let relative = pathdiff(dir.path(), &cwd).join("a/b/app.pid");
        let parent = ParentDir::open(&relative).unwrap();
        assert_eq!(identity(&parent), identity_of(&dir.path().join("a/b")));
        assert_eq!(parent.path(), cwd.join(&relative));
    }

    /// On Linux `openat2` resolves link-free paths itself: the walk by hand must agree.
    #[test]
    fn the_walk_by_hand_agrees() {
        let dir = private_tempdir();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        let cwd = std::env::current_dir().unwrap();
        let absolute = dir.path().join("a/b/../b/./..//b");
        let fd = walk(absolute.as_os_str(), Path::new("/"), &absolute.join("app.pid")).unwrap();
        let stat = rustix::fs::fstat(&fd).unwrap();
        #[allow(clippy::unnecessary_cast)]
        let opened = (stat.st_dev as u64, stat.st_ino as u64);
        assert_eq!(opened, identity_of(&dir.path().join("a/b")));
        let relative = pathdiff(&dir.path().join("a"), &cwd);
        let fd = walk(relative.as_os_str(), &cwd, &cwd.join(&relative).join("app.pid")).unwrap();
        let stat = rustix::fs::fstat(&fd).unwrap();
        #[allow(clippy::unnecessary_cast)]
        let opened = (stat.st_dev as u64, stat.st_ino as u64);
        assert_eq!(opened, identity_of(&dir.path().join("a")));
        let fd = walk(OsStr::new("."), &cwd, &cwd.join("app.pid")).unwrap();
        let stat = rustix::fs::fstat(&fd).unwrap();
        #[allow(clippy::unnecessary_cast)]
        let opened = (stat.st_dev as u64, stat.st_ino as u64);
        assert_eq!(opened, identity_of(&cwd));
    }

    /// `to` as a path relative to `from` (both absolute): `../..` up to `/`, then `to`.
    fn pathdiff(to: &Path, from: &Path) -> PathBuf {
        let mut up = PathBuf::new();
        for _ in from.components().skip(1) {
            up.push("..");
        }
        up.join(to.strip_prefix("/").unwrap())
    }

    #[test]
    fn more_than_forty_links_is_a_loop() {
        let dir = private_tempdir();
        std::fs::create_dir(dir.path().join("end")).unwrap();
        // l0 -> l1 -> ... -> l40 -> end: 41 links.
        symlink("end", dir.path().join("l40")).unwrap();
        for n in 0..40 {
            symlink(format!("l{}", n + 1), dir.path().join(format!("l{n}"))).unwrap();
        }
        let err = ParentDir::open(dir.path().join("l0/app.pid")).unwrap_err();
        assert_eq!(err.raw_os_error(), None);
        assert!(err.to_string().contains("more than 40 symbolic links"), "{err}");
        assert_eq!(err.kind(), io::Error::from(Errno::LOOP).kind());
        // 40 are fine.
        let parent = ParentDir::open(dir.path().join("l1/app.pid")).unwrap();
        assert_eq!(identity(&parent), identity_of(&dir.path().join("end")));
    }

    #[test]
    fn a_path_naming_a_directory_is_refused() {
        for path in ["", "/", "/tmp/", "/tmp/.", "/tmp/..", ".", "..", "a/"] {
            let err = ParentDir::open(path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{path:?}");
            assert!(err.to_string().ends_with("names a directory, not a file"), "{err}");
        }
    }

    #[test]
    fn errors_name_the_component() {
        let dir = private_tempdir();
        std::fs::write(dir.path().join("file"), "").unwrap();
        let err = ParentDir::open(dir.path().join("missing/x/app.pid")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().starts_with(&format!("{}: ", dir.path().join("missing").display())), "{err}");
        let err = ParentDir::open(dir.path().join("file/app.pid")).unwrap_err();
        assert!(err.to_string().starts_with(&format!("{}: ", dir.path().join("file").display())), "{err}");
        // A regular file on the way is no directory, and no symbolic link to read either.
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory, "{err}");
        // `.` is skipped, never walked into the name of what failed.
        let err = ParentDir::open(dir.path().join("./missing/./x/app.pid")).unwrap_err();
        assert!(err.to_string().starts_with(&format!("{}: ", dir.path().join("missing").display())), "{err}");
    }

    /// The rule for a link, whoever the caller is: pure facts of the directory, the link and
    /// the caller's uid (so the unprivileged cases are checked by root too).
    #[test]
    fn which_links_are_trusted() {
        let base = rustix::fs::stat("/").unwrap();
        let stat = |uid: u32, mode: u32| {
            let mut stat = base;
            stat.st_uid = uid;
            stat.st_mode = (0o040000 | mode) as _;
            stat
        };
        let (user, other) = (1000, 1001);
        let link = |uid: u32| stat(uid, 0o777);
        // Root's or the caller's, writable by nobody else: followed.
        assert_eq!(untrusted(&stat(0, 0o755), &link(0), user), None);
        assert_eq!(untrusted(&stat(user, 0o755), &link(other), user), None);
        assert_eq!(untrusted(&stat(0, 0o755), &link(0), 0), None);
        // Another user's directory.
        assert_eq!(
            untrusted(&stat(other, 0o755), &link(0), user).as_deref(),
            Some("in a directory that uid 1001 can write")
        );
        // Writable by its group or others, not sticky.
        for mode in [0o775, 0o757, 0o777] {
            let why = untrusted(&stat(0, mode), &link(0), user).expect("refused");
            assert_eq!(why, format!("in a directory that its group or others can write (mode {mode:o})"));
        }
        // Sticky: the link's owner decides.
        assert_eq!(untrusted(&stat(0, 0o1777), &link(0), user), None);
        assert_eq!(untrusted(&stat(0, 0o1777), &link(user), user), None);
        assert_eq!(
            untrusted(&stat(0, 0o1777), &link(other), user).as_deref(),
            Some("owned by uid 1001, in a sticky directory others can write (mode 1777)")
        );
        assert_eq!(
            untrusted(&stat(user, 0o1770), &link(other), user).as_deref().map(|s| &s[..15]),
            Some("owned by uid 10")
        );
    }
}
