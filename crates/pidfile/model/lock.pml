/*
 * The lock protocol of the `pidfile` crate and of `daemonic`'s launcher, at system-call
 * granularity, for the Spin model checker. README.md beside this file says what is modelled,
 * the properties, the bounds and the deliberate bugs (mutations) the checker must catch.
 *
 * Configurations (-D at `spin -a` time): the default (three processes running create ... remove),
 * WITH_LAUNCHER (a launcher locking the file empty, a forked daemon writing it, one creator);
 * both add a reader (`running_pid` and a `stop` signalling what it named) and an
 * administrator's `rm`. WITH_HANDOFF adds `--no-supervise`'s move of the lock to a
 * read-only descriptor. Every configuration has a hostile user who opens the PID file if its
 * mode lets it (private, 0600, unless PUBLIC_MODE) and takes LOCK_SH or LOCK_EX on it at any
 * moment, forever. Mutations: NO_RECHECK, UNLINK_AFTER_UNLOCK, WRITE_BEFORE_LOCK,
 * EMPTY_IS_STALE, LAUNCHER_WRITES_OWN_PID, NO_STILL_NAMES, PUBLIC_MODE, STOP_WAITS_ON_LOCK,
 * and for the hand-over NO_HANDOFF_RECHECK, HANDOFF_KEEPS_CONTENT.
 */

#define NONE      0
/* pids: 1..3 creators, 4 the launcher, 5 its daemon, 6 the reader, 7 the final prober,
   8 the hostile user (another uid) */
#define LAUNCHER  4
#define DAEMON    5
#define READER    6
#define PROBER    7
#define HOSTILE   8
#define NPID      9
/* Inodes 1..NINODE-1; every process holds at most one, the path names at most one more, so
   allocation never runs out (a blocking allocation inside `atomic` would lose atomicity). */
#define NINODE    10
#ifndef ROUNDS
#define ROUNDS    2      /* create ... remove rounds per creator */
#endif
#ifndef MAXCRASH
#define MAXCRASH  1      /* kill -9 of any process at any step, per run */
#endif
#ifndef CREATORS
#define CREATORS  2      /* 3: three creators, no reader */
#endif
#define ATTEMPTS  3      /* the crate's retries when the path changed under a lock */

byte path = NONE;          /* the inode the PID file's path names */
bool linked[NINODE];       /* the inode has a name */
byte opens[NINODE];        /* descriptors open on the inode */
byte lock[NINODE];         /* the open file description holding LOCK_EX (its opener's pid); 0 = free */
byte hlock[NINODE];        /* the hostile user's lock on the inode: 0 none, 1 LOCK_SH, 2 LOCK_EX */
bool public[NINODE];       /* the file's mode lets other users open it (0644; the command's is 0600) */
byte content[NINODE];      /* the pid written; 0 = empty */
byte wepoch[NINODE];       /* the writer's incarnation when it wrote (rule 4: start time before mtime) */
byte epoch[NPID];          /* a crashed or exited process's pid, if seen again, is another process */
byte fdof[NPID];           /* the inode each process has open (/proc/PID/fd); 0 = none */
byte ofd[NPID];            /* whose open file description it uses (the daemon shares the launcher's) */
byte holding[NPID];        /* the inode the process believes it holds as the PID file; 0 = none */
byte crashes;
bool admin_rm;             /* the administrator removed the path */
byte workers;              /* processes still running, the administrator aside */
bool probing;              /* the final prober runs: the administrator stays away */

/* The writer of inode i is still the process that wrote it. */
#define live(i)      (content[i] != 0 && epoch[content[i]] == wepoch[i])
/* mutual_exclusion, checked after every step that changes a lock, a belief or the path (so in
   every reachable state): whoever believes it holds the PID file holds the lock of the inode
   the path names (unless an administrator removed the path, which no protocol can prevent). */
#define believes_wrongly(p)  (holding[p] != 0 && (lock[holding[p]] != ofd[p] || (path != holding[p] && !admin_rm)))
inline invariants() {
    assert(!believes_wrongly(1) && !believes_wrongly(2) && !believes_wrongly(3) && !believes_wrongly(DAEMON)) /* mutual_exclusion */
}

/* flock(LOCK_EX|LOCK_NB) succeeds: no lock of any kind, the hostile user's included. */
#define ex_free(i)   (lock[i] == 0 && hlock[i] == 0)
/* flock(LOCK_SH|LOCK_NB) fails (the lock tests of inspect and stop): an exclusive lock is held. */
#define ex_held(i)   (lock[i] != 0 || hlock[i] == 2)
#ifdef PUBLIC_MODE
#define NEW_MODE_PUBLIC true
#else
#define NEW_MODE_PUBLIC false
#endif

/* A credible holder of a locked file: live, and it has the file open (Linux: /proc/PID/fd). */
#define credible(i)  (live(i) && fdof[content[i]] == i)
/* Whether the lock of inode i is free or held through this process's open file description. */
#define free_or_mine(i, me)  (lock[i] == 0 || lock[i] == ofd[me])

inline alloc(i) {
    i = 1;
    do
    :: i < NINODE - 1 && (linked[i] || opens[i] > 0) -> i++
    :: else -> break
    od;
    assert(!linked[i] && opens[i] == 0);
    content[i] = 0; wepoch[i] = 0; lock[i] = 0; hlock[i] = 0;
    public[i] = NEW_MODE_PUBLIC             /* created 0600 (or 0644), O_CREAT's mode */
}

/* open(O_RDWR|O_CREAT|O_NOFOLLOW) of the path. */
inline open_create(me, i) {
    atomic {
        if
        :: path == NONE -> alloc(i); linked[i] = true; path = i
        :: else -> i = path
        fi;
        opens[i]++; fdof[me] = i; ofd[me] = me;
        invariants()
    }
}

/* close(): a lock goes with the last descriptor of its open file description. */
inline close_fd(me, i) {
    atomic {
        opens[i]--;
        fdof[me] = NONE; holding[me] = NONE;
        if
        :: lock[i] == ofd[me] && (ofd[me] != LAUNCHER || (fdof[LAUNCHER] != i && fdof[DAEMON] != i)) -> lock[i] = 0
        :: else -> skip
        fi;
        invariants()
    }
}

/* unlink(path) of inode i: the property "no lost owner" — never a file another holds. */
inline unlink_checked(me, i) {
    atomic {
        if
        :: path == i ->
            assert(free_or_mine(i, me));      /* no_lost_owner */
            path = NONE; linked[i] = false
        :: else -> skip
        fi;
        invariants()
    }
}

/* kill -9 here, once per run: the kernel drops the process's locks; files stay as they are. */
#define CRASH  if :: crashes < MAXCRASH -> crashes++; goto crashed :: true -> skip fi

inline crash_cleanup(me, i) {
    atomic {
        i = fdof[me];
        if
        :: i != NONE -> close_fd(me, i)
        :: else -> skip
        fi;
        holding[me] = NONE; epoch[me]++
    }
}

/* PidFile::create ... PidFile::remove, ROUNDS times. */
proctype Creator(byte me) {
    byte i, round, attempt; bool got;
    round = 0;
next_round:
    if
    :: round == ROUNDS -> goto exited
    :: else -> round++; attempt = 0
    fi;
retry:
    CRASH;
    open_create(me, i);
    CRASH;
#ifdef WRITE_BEFORE_LOCK
    atomic { assert(free_or_mine(i, me)); content[i] = me; wepoch[i] = epoch[me] }   /* no_lost_owner */
    CRASH;
#endif
    atomic {                                   /* flock(LOCK_EX|LOCK_NB) */
        if
        :: ex_free(i) -> lock[i] = me; got = true
        :: else -> got = false
        fi;
        invariants()
    }
    if
    :: !got ->                                 /* AlreadyRunning: read and judge the holder */
        CRASH;
        atomic {
            if
            /* A locked file's credible writer holds its lock; an unlocked one (just released,
               or --no-supervise's hand-over) is its rule-4 holder: both truthful. */
            :: credible(i) -> assert(lock[i] == 0 || lock[i] == ofd[content[i]])   /* truthful_reports */
            :: else -> skip
            fi
        }
#ifdef EMPTY_IS_STALE
        if
        :: content[i] == 0 -> unlink_checked(me, i)   /* "an empty file names nobody" */
        :: else -> skip
        fi;
#endif
        close_fd(me, i);
        goto next_round                        /* the caller gives up this round */
    :: else -> skip
    fi;
    CRASH;
#ifndef NO_RECHECK
    if                                         /* fstat + lstat(path): still the path's inode? */
    :: path != i ->
        close_fd(me, i);
        attempt++;
        if
        :: attempt < ATTEMPTS -> goto retry
        :: else -> goto next_round
        fi
    :: else -> skip
    fi;
#endif
    if                                         /* pread + rule 4: a live non-locking writer */
    :: live(i) && content[i] != me -> close_fd(me, i); goto next_round
    :: else -> skip
    fi;
    CRASH;
    atomic {                                   /* ftruncate + pwrite */
        assert(free_or_mine(i, me));           /* no_lost_owner */
        content[i] = me; wepoch[i] = epoch[me]; holding[me] = i;
        invariants()
    }
    CRASH;
    holding[me] = NONE;                        /* remove() begins */
#ifdef UNLINK_AFTER_UNLOCK
    atomic { lock[i] = 0; invariants() }       /* LOCK_UN before unlink: the bug */
    CRASH;
#endif
    if                                         /* pread: still ours? then lstat + unlink */
    :: content[i] == me -> unlink_checked(me, i)
    :: else -> skip
    fi;
    close_fd(me, i);
    goto next_round;
crashed:
    crash_cleanup(me, i);
    goto next_round;
exited:
    atomic { epoch[me]++; workers-- }          /* a pid seen again is another process */
}

#ifdef WITH_LAUNCHER
/* Daemon::daemonize with a PID file: PidFileLock::acquire (the file locked and emptied), fork;
   the daemon writes its own pid through the shared open file description; the launcher waits
   for "ready", detaches (closes its descriptor, leaves the file) and exits. */
proctype Launcher() {
    byte i;
    CRASH;
    open_create(LAUNCHER, i);
    atomic {
        if
        :: ex_free(i) -> lock[i] = LAUNCHER
        :: else -> close_fd(LAUNCHER, i); goto exited       /* already running */
        fi;
        invariants()
    }
    CRASH;
    if
    :: path != i -> close_fd(LAUNCHER, i); goto exited     /* (the crate retries; one try here) */
    :: else -> skip
    fi;
    if
    :: live(i) -> close_fd(LAUNCHER, i); goto exited
    :: else -> skip
    fi;
    CRASH;
#ifdef LAUNCHER_WRITES_OWN_PID
    atomic { assert(free_or_mine(i, LAUNCHER)); content[i] = LAUNCHER; wepoch[i] = epoch[LAUNCHER] }
#else
    atomic { assert(free_or_mine(i, LAUNCHER)); content[i] = 0 }    /* ftruncate: names nobody */
#endif
    CRASH;
    atomic { opens[i]++; fdof[DAEMON] = i; ofd[DAEMON] = LAUNCHER; workers++; run Daemon(i) }   /* fork */
    CRASH;
    /* "ready" (or the daemon's end) seen: detach and leave. */
    close_fd(LAUNCHER, i);
    goto exited;
crashed:
    crash_cleanup(LAUNCHER, i);
exited:
    atomic { epoch[LAUNCHER]++; workers-- }
}

proctype Daemon(byte i) {
    CRASH;
    atomic {
        assert(free_or_mine(i, DAEMON));       /* no_lost_owner */
        content[i] = DAEMON; wepoch[i] = epoch[DAEMON]; holding[DAEMON] = i;
        invariants()
    }
    CRASH;
#ifdef WITH_HANDOFF
    /* `daemonic start --no-supervise`: the lock moves to a read-only open file description of
       the same inode, PROGRAM's; flock cannot move it, so LOCK_UN on the shared read-write
       description first (it releases it for the launcher's copy too), then LOCK_EX|LOCK_NB on
       the new one; losing that race means not starting. The file is emptied before and the
       pid written again (through the read-write descriptor) after, so that it never names a
       process that does not hold it. */
#ifndef HANDOFF_KEEPS_CONTENT
    atomic { holding[DAEMON] = NONE; content[i] = 0; invariants() }        /* ftruncate */
#else
    atomic { holding[DAEMON] = NONE; invariants() }
#endif
    CRASH;
    atomic { lock[i] = 0; invariants() }                                     /* LOCK_UN */
    CRASH;
    atomic {                                                                 /* LOCK_EX|LOCK_NB, read-only */
        if
        :: ex_free(i) -> lock[i] = DAEMON; ofd[DAEMON] = DAEMON
        :: else -> skip                        /* another start took it: this one fails */
        fi;
        invariants()
    }
    CRASH;
    if
    :: lock[i] != DAEMON -> goto abandon
    :: else -> skip
    fi;
    CRASH;
#ifndef NO_HANDOFF_RECHECK
    if                                         /* lstat(path): still the path's inode? */
    :: path != i -> goto abandon
    :: else -> skip
    fi;
#endif
    atomic {                                                                 /* pwrite */
        assert(free_or_mine(i, DAEMON));       /* no_lost_owner */
        content[i] = DAEMON; wepoch[i] = epoch[DAEMON]; holding[DAEMON] = i;
        invariants()
    }
    CRASH;
    /* PROGRAM runs, then exits: nobody removes the file (it was exec'd); its lock goes. */
    atomic { holding[DAEMON] = NONE; opens[i]--; fdof[DAEMON] = NONE; if :: lock[i] == DAEMON -> lock[i] = 0 :: else -> skip fi; invariants() }
    goto exited;
abandon:
    /* Fails before exec: leaves the file to the start that took it. */
    close_fd(DAEMON, i);
    goto exited;
#endif
    holding[DAEMON] = NONE;                    /* guard.stop(): pread, lstat, unlink, close */
    if
    :: content[i] == DAEMON -> unlink_checked(DAEMON, i)
    :: else -> skip
    fi;
    close_fd(DAEMON, i);
    goto exited;
crashed:
    crash_cleanup(DAEMON, i);
exited:
    atomic { epoch[DAEMON]++; workers-- }
}
#endif

/* inspect + holder(), then `stop`: a locked file's holder is named only if credible; then the
   pid is pinned (pidfd_open), the file re-read on the same descriptor (Inspection::still_names:
   the same pid, still its writer, still has the file open), the lock re-tested
   (is_released), and the process signalled. Pinning makes that last step atomic: the process
   signalled is the one checked. A named pid must hold the lock and be the service, never a
   launcher (truthful_reports). Then `stop` waits for the process to exit (its pidfd), or until
   its timeout: "stopped" must mean the process exited, "still running" that it runs
   (truthful_reports). The lock is no witness: the holder releases it (closes its files)
   before it exits, and anyone who can open the file can hold it too. */
proctype Reader() {
    byte i, named, e0;
    atomic {
        if
        :: path != NONE -> i = path; opens[i]++; fdof[READER] = i; ofd[READER] = READER
        :: else -> goto exited
        fi
    }
    atomic {
        if
        :: ex_held(i) && credible(i) -> named = content[i]
        :: else -> named = NONE
        fi
    }
    atomic {
        if
#ifdef NO_STILL_NAMES
        :: named != NONE && ex_held(i) && fdof[named] == i ->
#else
        :: named != NONE && content[i] == named && credible(i) && ex_held(i) ->
#endif
            assert(lock[i] == ofd[named]);     /* truthful_reports: the named pid holds the lock */
            assert(named != LAUNCHER);         /* truthful_reports: the service, never its launcher */
            e0 = epoch[named]                  /* pidfd_open, kill(SIGTERM) */
        :: else -> named = NONE
        fi
    }
    if
    :: named != NONE ->
        atomic {
            if
#ifdef STOP_WAITS_ON_LOCK
            :: !ex_held(i) -> assert(epoch[named] != e0)     /* truthful_reports: "stopped" on the lock's release */
            :: else -> assert(epoch[named] == e0)            /* truthful_reports: "still running" at the timeout, still locked */
#else
            :: epoch[named] != e0 -> skip      /* the pidfd says it exited: "stopped" */
            :: else -> skip                    /* the timeout, not exited: "still running" */
#endif
            fi
        }
    :: else -> skip
    fi;
    atomic { opens[i]--; fdof[READER] = NONE }
exited:
    workers--
}

/* Another user, once: opens the PID file if its mode lets it (a reader's right), then takes
   LOCK_SH or LOCK_EX at any moment and holds it until the end. It is no holder of the service:
   progress must hold beside it. */
proctype Hostile() {
    byte i;
end_open:
    atomic { path != NONE && public[path] -> i = path; opens[i]++; fdof[HOSTILE] = i; ofd[HOSTILE] = HOSTILE }
end_lock:
    atomic {
        if
        :: ex_free(i) -> hlock[i] = 2          /* flock(LOCK_EX) */
        :: lock[i] == 0 -> hlock[i] = 1        /* flock(LOCK_SH) */
        fi
    }
}

/* The administrator's `rm` of the path, at any moment, once. */
proctype Admin() {
end:
    atomic { path != NONE && !probing -> linked[path] = false; path = NONE; admin_rm = true; invariants() }
}

/* progress: once everyone else has exited or crashed, a create succeeds, in one attempt. */
proctype Prober() {
    byte i;
    open_create(PROBER, i);
    assert(ex_free(i));                        /* progress: nobody left holds the lock, nor can anyone else */
    lock[i] = PROBER;
    assert(path == i && !live(i))              /* progress: not refused as running */
}

init {
    atomic {
#ifdef WITH_LAUNCHER
        workers = 3; run Launcher(); run Creator(1); run Reader();
#else
#if CREATORS == 3
        workers = 3; run Creator(1); run Creator(2); run Creator(3);
#else
        workers = 3; run Creator(1); run Creator(2); run Reader();
#endif
#endif
        run Admin(); run Hostile()
    }
    /* Everyone has exited or crashed (the administrator may never have acted). */
    atomic { workers == 0 -> probing = true }
    run Prober()
}
