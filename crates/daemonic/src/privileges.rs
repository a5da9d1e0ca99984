//! Users, groups and the privilege drop.
//!
//! Lookups (`getpwnam_r`, `getgrnam_r`, `getgrouplist`) go through `libc` because rustix has no
//! passwd/group database access; they run in the launcher, before the fork and any `chroot`, so
//! they read the host's databases and an unknown user is reported to the terminal. The drop
//! (`setgroups`, `setgid`, `setuid`) goes through `libc` too: rustix's `set_thread_*` change one
//! thread only on Linux, and the process-wide versions are what a daemon needs.

use std::ffi::{CStr, CString};
use std::io;

use crate::{DaemonError, Step};

/// A user or group, by name or by numeric id.
///
/// # Examples
///
/// ```
/// use daemonic::Account;
///
/// assert_eq!(Account::from("nobody"), Account::Name("nobody".into()));
/// assert_eq!(Account::from(65534), Account::Id(65534));
/// // Digits are an id, as in chown(1).
/// assert_eq!("65534".parse::<Account>(), Ok(Account::Id(65534)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Account {
    /// Looked up in the passwd or group database.
    Name(String),
    /// Used as is (a user id without a passwd entry gets the group of the same number unless a
    /// group is given, and no supplementary groups).
    Id(u32),
}

impl From<&str> for Account {
    fn from(name: &str) -> Account {
        Account::Name(name.to_owned())
    }
}

impl From<String> for Account {
    fn from(name: String) -> Account {
        Account::Name(name)
    }
}

impl From<u32> for Account {
    fn from(id: u32) -> Account {
        Account::Id(id)
    }
}

impl std::str::FromStr for Account {
    type Err = std::convert::Infallible;

    /// All ASCII digits: an id; anything else: a name.
    fn from_str(s: &str) -> Result<Account, Self::Err> {
        Ok(match s.parse::<u32>() {
            Ok(id) if s.bytes().all(|b| b.is_ascii_digit()) => Account::Id(id),
            _ => Account::Name(s.to_owned()),
        })
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Account::Name(name) => f.write_str(name),
            Account::Id(id) => write!(f, "{id}"),
        }
    }
}

/// The user, primary group and supplementary groups a service runs as, resolved from
/// [`Daemon::user`](crate::Daemon::user)/[`Daemon::group`](crate::Daemon::group) in the launcher
/// (before the fork and any `chroot`, so from the host's passwd and group databases).
///
/// A daemon that keeps its own privileges to supervise the programs it starts
/// ([`Daemon::keep_privileges`](crate::Daemon::keep_privileges)) gets them from
/// [`DaemonGuard::credentials`](crate::DaemonGuard::credentials) and applies them in each child
/// with [`apply`](Credentials::apply).
///
/// # Examples
///
/// ```no_run
/// use std::os::unix::process::CommandExt;
///
/// let guard = daemonic::Daemon::new().user("nobody").keep_privileges().daemonize()?;
/// let mut command = std::process::Command::new("my-server");
/// if let Some(credentials) = guard.credentials().cloned() {
///     // SAFETY: `apply` makes system calls only: no allocation, no lock.
///     unsafe { command.pre_exec(move || credentials.apply()) };
/// }
/// let child = command.spawn()?; // runs as nobody; the daemon stays root
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `None`: keep the user id (only the group changes).
    pub(crate) uid: Option<u32>,
    pub(crate) gid: u32,
    /// The complete supplementary group list to set (root's groups never survive).
    pub(crate) groups: Vec<libc::gid_t>,
}

impl Credentials {
    /// The user id, or `None` when only a group was set (the user id is kept).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().user(65534).group(65534).keep_privileges().daemonize()?;
    /// assert_eq!(guard.credentials().and_then(|c| c.uid()), Some(65534));
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }

    /// The primary group id.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().user(65534).group(65534).keep_privileges().daemonize()?;
    /// assert_eq!(guard.credentials().map(|c| c.gid()), Some(65534));
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The supplementary groups: the user's groups (`getgrouplist`), or only the primary group
    /// for a group without a user or a user id without a passwd entry.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().user(65534).group(65534).keep_privileges().daemonize()?;
    /// assert_eq!(guard.credentials().map(|c| c.groups().to_vec()), Some(vec![65534]));
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    pub fn groups(&self) -> &[libc::gid_t] {
        &self.groups
    }

    /// `setgroups`, `setgid`, `setuid` for the whole process, then proves root cannot be
    /// regained (`setuid(0)` must fail) — the privilege drop a daemon makes, for a child between
    /// `fork` and `exec`.
    ///
    /// Async-signal-safe: system calls only, no allocation and no lock, so it may run in
    /// [`CommandExt::pre_exec`](std::os::unix::process::CommandExt::pre_exec). A caller that is
    /// already the target user and group (and not root) changes nothing.
    ///
    /// # Examples
    ///
    /// See [`Credentials`].
    ///
    /// # Errors
    ///
    /// The OS error of the failing call (`EPERM` when the caller may not change its ids); an
    /// error of kind `Other` when `setuid(0)` succeeded after the drop.
    ///
    /// # References
    ///  - [POSIX `setuid`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/setuid.html)
    ///  - [Linux `setgroups(2)`](https://man7.org/linux/man-pages/man2/setgroups.2.html)
    pub fn apply(&self) -> io::Result<()> {
        drop_privileges(self).map_err(|(_, error)| error)
    }
}

struct Passwd {
    name: CString,
    uid: u32,
    gid: u32,
}

/// Resolves `user`/`group` into credentials, or `None` when neither is set.
pub(crate) fn resolve(user: Option<&Account>, group: Option<&Account>) -> Result<Option<Credentials>, DaemonError> {
    let group_id = group.map(lookup_group).transpose()?;
    let Some(user) = user else {
        return Ok(group_id.map(|gid| Credentials { uid: None, gid, groups: vec![gid as libc::gid_t] }));
    };
    let unknown = || DaemonError::UnknownUser { name: user.to_string() };
    let passwd = match user {
        Account::Name(name) => {
            let name = CString::new(name.as_str()).map_err(|_| unknown())?;
            Some(getpw(Lookup::Name(&name))?.ok_or_else(unknown)?)
        }
        Account::Id(uid) => getpw(Lookup::Id(*uid))?,
    };
    match passwd {
        Some(passwd) => {
            let gid = group_id.unwrap_or(passwd.gid);
            let groups = group_list(&passwd.name, gid)?;
            Ok(Some(Credentials { uid: Some(passwd.uid), gid, groups }))
        }
        // A bare uid with no passwd entry (as start-stop-daemon's --chuid takes it): the group
        // is the explicit one, else the same number, and it is the only group (no
        // supplementary groups: there is no name to look them up by).
        None => match user {
            Account::Id(uid) => {
                let gid = group_id.unwrap_or(*uid);
                Ok(Some(Credentials { uid: Some(*uid), gid, groups: vec![gid as libc::gid_t] }))
            }
            Account::Name(_) => Err(unknown()),
        },
    }
}

enum Lookup<'a> {
    Name(&'a CStr),
    Id(u32),
}

fn lookup_error(source: io::Error) -> DaemonError {
    DaemonError::Launcher { step: Step::LookUpAccount, source }
}

/// `getpwnam_r`/`getpwuid_r`, growing the buffer on `ERANGE`.
fn getpw(lookup: Lookup<'_>) -> Result<Option<Passwd>, DaemonError> {
    let mut buf = vec![0 as libc::c_char; 1024];
    loop {
        // SAFETY: an all-zero passwd is valid storage for the C library to fill.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: all pointers are valid for the calls' duration; `buf.len()` is its size.
        let ret = unsafe {
            match lookup {
                Lookup::Name(name) => {
                    libc::getpwnam_r(name.as_ptr(), &mut entry, buf.as_mut_ptr(), buf.len(), &mut result)
                }
                Lookup::Id(uid) => {
                    libc::getpwuid_r(uid as libc::uid_t, &mut entry, buf.as_mut_ptr(), buf.len(), &mut result)
                }
            }
        };
        match ret {
            0 if result.is_null() => return Ok(None),
            0 => {
                // SAFETY: on success `pw_name` points to a NUL-terminated string inside `buf`.
                let name = unsafe { CStr::from_ptr(entry.pw_name) }.to_owned();
                return Ok(Some(Passwd { name, uid: entry.pw_uid as u32, gid: entry.pw_gid as u32 }));
            }
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            // Some C libraries report "not found" as one of these instead of a null result.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            errno => return Err(lookup_error(io::Error::from_raw_os_error(errno))),
        }
    }
}

/// `getgrnam_r` for a name; an id is used as given.
fn lookup_group(group: &Account) -> Result<u32, DaemonError> {
    let name = match group {
        Account::Id(gid) => return Ok(*gid),
        Account::Name(name) => name,
    };
    let unknown = || DaemonError::UnknownGroup { name: name.clone() };
    let c_name = CString::new(name.as_str()).map_err(|_| unknown())?;
    let mut buf = vec![0 as libc::c_char; 4096];
    loop {
        // SAFETY: an all-zero group is valid storage for the C library to fill.
        let mut entry: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: all pointers are valid for the call's duration; `buf.len()` is its size.
        let ret = unsafe { libc::getgrnam_r(c_name.as_ptr(), &mut entry, buf.as_mut_ptr(), buf.len(), &mut result) };
        match ret {
            0 if result.is_null() => return Err(unknown()),
            0 => return Ok(entry.gr_gid as u32),
            libc::ERANGE if buf.len() < 1 << 22 => buf.resize(buf.len() * 4, 0),
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Err(unknown()),
            errno => return Err(lookup_error(io::Error::from_raw_os_error(errno))),
        }
    }
}

/// `getgrouplist(name, gid)`: the user's groups from the group database, `gid` included.
fn group_list(name: &CStr, gid: u32) -> Result<Vec<libc::gid_t>, DaemonError> {
    // macOS declares the groups as `int`; everywhere else they are `gid_t`.
    #[cfg(target_vendor = "apple")]
    type Entry = libc::c_int;
    #[cfg(not(target_vendor = "apple"))]
    type Entry = libc::gid_t;

    let mut groups: Vec<Entry> = vec![0; 64];
    loop {
        let mut count = groups.len() as libc::c_int;
        // SAFETY: `groups` has room for `count` entries; `name` is NUL-terminated.
        let ret = unsafe { libc::getgrouplist(name.as_ptr(), gid as _, groups.as_mut_ptr(), &mut count) };
        if ret >= 0 {
            groups.truncate(count.max(0) as usize);
            return Ok(groups.into_iter().map(|g| g as libc::gid_t).collect());
        }
        // -1: too small; glibc sets `count` to the size needed, others do not.
        if groups.len() >= 1 << 16 {
            return Err(lookup_error(io::Error::other("the user is in more than 65536 groups")));
        }
        let needed = (count.max(0) as usize).max(groups.len() * 2);
        groups.resize(needed, 0);
    }
}

/// `setgroups`, `setgid`, `setuid`, then proves root cannot be regained. Runs in the daemon
/// (single-threaded, so the process-wide calls need no cross-thread broadcast).
pub(crate) fn drop_privileges(credentials: &Credentials) -> Result<(), (Step, io::Error)> {
    // An unprivileged caller asking to be itself: nothing to change (and `setgroups` would be
    // refused).
    let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
    if uid != 0 && credentials.uid.is_none_or(|u| u == uid) && credentials.gid == gid {
        return Ok(());
    }
    let os = |step: Step, ret: libc::c_int| if ret == 0 { Ok(()) } else { Err((step, io::Error::last_os_error())) };
    // SAFETY: `groups` is a valid array of `len()` gids.
    os(Step::SetGroups, unsafe { libc::setgroups(credentials.groups.len() as _, credentials.groups.as_ptr()) })?;
    // SAFETY: plain system calls on integers.
    os(Step::SetGid(credentials.gid), unsafe { libc::setgid(credentials.gid as libc::gid_t) })?;
    if let Some(uid) = credentials.uid {
        // SAFETY: as above.
        os(Step::SetUid(uid), unsafe { libc::setuid(uid as libc::uid_t) })?;
        if uid != 0 {
            // SAFETY: as above. Success would mean the drop is reversible: refuse to go on.
            if unsafe { libc::setuid(0) } == 0 {
                // No message: this may run between fork and exec, where nothing allocates; the
                // step says what happened.
                return Err((Step::VerifyPrivilegeDrop, io::ErrorKind::Other.into()));
            }
        }
    }
    Ok(())
}

/// Creates the service's runtime directory (mode 0755) and gives it to the service user, as
/// systemd's `RuntimeDirectory=` does, so that the daemon can still remove its PID file there
/// after dropping root. Runs in the launcher, before the PID file is locked.
///
/// An existing directory is used as it is, never modified, and only if it already belongs to
/// the service user (a previous run made it so, or it is root's and the daemon stays root); a
/// symlink, a non-directory, or a directory owned by anyone else is refused. So a shared
/// directory such as `/run` or `/tmp` is never handed to the service user, nor its mode changed.
pub(crate) fn prepare_runtime_directory(
    path: &std::path::Path,
    credentials: Option<&Credentials>,
) -> Result<(), DaemonError> {
    use rustix::fs::{Mode, OFlags, CWD};
    use rustix::io::Errno;
    let fail = |source: io::Error| DaemonError::Launcher { step: Step::RuntimeDirectory(path.to_path_buf()), source };
    let created = match rustix::fs::mkdirat(CWD, path, Mode::from_raw_mode(0o755)) {
        Ok(()) => true,
        Err(Errno::EXIST) => false,
        Err(e) => return Err(fail(e.into())),
    };
    let dir = rustix::fs::openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        // ELOOP: a symlink (never followed); ENOTDIR: something else.
        Errno::LOOP | Errno::NOTDIR => {
            fail(io::Error::new(io::ErrorKind::InvalidInput, "not a directory (or a symlink)"))
        }
        e => fail(e.into()),
    })?;
    let euid = rustix::process::geteuid().as_raw();
    let (uid, gid) = match credentials {
        Some(credentials) => (credentials.uid.unwrap_or(euid), credentials.gid),
        None => (euid, rustix::process::getegid().as_raw()),
    };
    let stat = rustix::fs::fstat(&dir).map_err(|e| fail(e.into()))?;
    if !created {
        if stat.st_uid != uid {
            return Err(fail(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("it exists and belongs to uid {}, not to the service user (uid {uid})", stat.st_uid),
            )));
        }
        return Ok(());
    }
    if stat.st_uid != euid {
        // We just made it, so it is ours: anything else is a directory someone swapped in
        // between our mkdir and our open (the parent is writable by them). Never hand that over.
        return Err(fail(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("it was replaced while being created (now owned by uid {})", stat.st_uid),
        )));
    }
    if stat.st_uid != uid || stat.st_gid != gid {
        rustix::fs::fchown(&dir, Some(rustix::fs::Uid::from_raw(uid)), Some(rustix::fs::Gid::from_raw(gid)))
            .map_err(|e| fail(e.into()))?;
    }
    // Writable by the service user only, whatever the umask made of the mkdir.
    rustix::fs::fchmod(&dir, Mode::from_raw_mode(0o755)).map_err(|e| fail(e.into()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_parsing() {
        assert_eq!("0".parse::<Account>().unwrap(), Account::Id(0));
        assert_eq!("www-data".parse::<Account>().unwrap(), Account::Name("www-data".into()));
        assert_eq!("+5".parse::<Account>().unwrap(), Account::Name("+5".into()));
        assert_eq!(Account::Id(7).to_string(), "7");
    }

    #[test]
    fn root_resolves_with_its_groups() {
        let creds = resolve(Some(&Account::Name("root".into())), None).unwrap().unwrap();
        assert_eq!((creds.uid, creds.gid), (Some(0), 0));
        assert!(creds.groups.contains(&0));
    }

    #[test]
    fn unknown_names_are_clear_errors() {
        let user = Account::Name("no-such-user-xyz".into());
        assert!(
            matches!(resolve(Some(&user), None), Err(DaemonError::UnknownUser { name }) if name == "no-such-user-xyz")
        );
        let group = Account::Name("no-such-group-xyz".into());
        assert!(matches!(resolve(None, Some(&group)), Err(DaemonError::UnknownGroup { .. })));
        // A uid without a passwd entry gets the group of the same number, and no other.
        let creds = resolve(Some(&Account::Id(4_000_000_000)), None).unwrap().unwrap();
        assert_eq!((creds.uid, creds.gid, creds.groups), (Some(4_000_000_000), 4_000_000_000, vec![4_000_000_000]));
        let creds = resolve(Some(&Account::Id(4_000_000_000)), Some(&Account::Id(4_000_000_001))).unwrap().unwrap();
        assert_eq!(creds.groups, vec![4_000_000_001]);
    }
}
