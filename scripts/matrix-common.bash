# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # sets variables for, and reads $here of, its sourcer
# Sourced by scripts/matrix and scripts/soak: the interpreter runs, choosing some of them,
# and getting the interpreters ready (python3.11-dbg, the sid chroot bind-mounting the
# repository at /src). Commands run inside a run go through `scripts/matrix __in`.
#
# Expects $here (the repository) to be the current directory; defines
#   RUNS, pyenv_python, run_names, select_runs (-> selected), enter_private_namespace,
#   prepare_interpreters (-> chroot_root, mounted, chroot_error), unmount_chroot, crash_where.

# ---------------------------------------------------------------------------------------
# The runs: name | where (host or chroot) | interpreter | venv | expectation | PYTHON_JIT
# ---------------------------------------------------------------------------------------
pyenv_python() {  # version -> path to its python3 (pyenv prefix, else ~/.pyenv/versions)
    local prefix=""
    if command -v pyenv >/dev/null; then
        prefix=$(pyenv prefix "$1" 2>/dev/null) || prefix=""
    fi
    if [ -n "$prefix" ] && [ -x "$prefix/bin/python3" ]; then
        echo "$prefix/bin/python3"
    else
        echo "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1/bin/python3"
    fi
}

RUNS=(
    "3.11     host   $(pyenv_python 3.11.7)  3.11     -      -"
    "3.12     host   $(pyenv_python 3.12.1)  3.12     -      -"
    "3.13     host   $(pyenv_python 3.13.0)  3.13     -      -"
    "3.14     chroot /usr/bin/python3.14     3.14     -      -"
    "3.15     chroot /usr/bin/python3.15     3.15     -      -"
    "3.14-jit chroot /usr/bin/python3.14     3.14     jit    1"
    "3.15-jit chroot /usr/bin/python3.15     3.15     jit    1"
    "3.11-dbg host   /usr/bin/python3.11-dbg 3.11-dbg debug  -"
    "3.14-dbg chroot /usr/bin/python3.14d    3.14-dbg debug  -"
)

run_names() {
    local r names=()
    for r in "${RUNS[@]}"; do names+=("${r%% *}"); done
    echo "${names[*]}"
}

# shellcheck disable=SC2053  # the pattern is a glob on purpose
matches() {  # name where pattern
    case "$3" in
        host|chroot) [ "$2" = "$3" ] ;;
        jit) [[ $1 == *-jit ]] ;;
        dbg|debug) [[ $1 == *-dbg ]] ;;
        *) [[ $1 == $3 ]] ;;  # unquoted: a glob
    esac
}

# Sets selected=() to the runs matching any pattern (all runs without one), in table
# order, and need_chroot/need_dbg; exits 2 for a pattern that matches nothing.
select_runs() {  # program-name pattern...
    local prog=$1 pat found r n w p
    shift
    selected=()
    if [ $# -eq 0 ]; then
        selected=("${RUNS[@]}")
    fi
    for pat in "$@"; do
        found=0
        for r in "${RUNS[@]}"; do
            read -r n w _ <<<"$r"
            if matches "$n" "$w" "$pat"; then
                found=1
                [[ " ${selected[*]:-} " == *" $r "* ]] || selected+=("$r")
            fi
        done
        if [ $found = 0 ]; then
            echo "$prog: no run matches '$pat'; runs: $(run_names) (groups: host chroot jit dbg)" >&2
            exit 2
        fi
    done
    need_chroot=0 need_dbg=0
    for r in "${selected[@]}"; do
        read -r n w p _ <<<"$r"
        [ "$w" = chroot ] && need_chroot=1
        [ "$p" = /usr/bin/python3.11-dbg ] && need_dbg=1
    done
    return 0
}

# The chroot runs bind-mount the repository into the chroot. Do it in a private mount
# namespace when possible, so the mount can never outlive the script (even on kill -9);
# the script unmounts it anyway (unmount_chroot). Re-executes the script there.
enter_private_namespace() {  # script args...
    if [ "$need_chroot" = 1 ] && [ "$(id -u)" = 0 ] && [ -z "${STATICCALL_MATRIX_NS:-}" ] \
        && command -v unshare >/dev/null && unshare --mount --propagation private true 2>/dev/null; then
        STATICCALL_MATRIX_NS=1 exec unshare --mount --propagation private "$@"
    fi
}

# Installs python3.11-dbg when a selected run needs it, builds or reuses the chroot and
# bind-mounts the repository at <chroot>/src. Sets chroot_error when the chroot runs
# cannot work; logs go to .matrix/logs/.
chroot_root="" mounted="" chroot_error=""
prepare_interpreters() {  # program-name
    local prog=$1
    mkdir -p .matrix/logs
    # the debug interpreter, its headers and a compiler for the accelerator, and the
    # standard-library suites tests/test_stdlib_roundtrip.py runs
    if [ "$need_dbg" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
        && ! { [ -x /usr/bin/python3.11-dbg ] && [ -e /usr/include/python3.11d/Python.h ] \
               && command -v gcc >/dev/null && [ -f /usr/lib/python3.11/test/test_copy.py ]; }; then
        echo "$prog: installing python3.11-dbg, its headers and test suite (log: .matrix/logs/apt.log)"
        (export DEBIAN_FRONTEND=noninteractive
         apt-get update -qq && apt-get install -y -qq python3.11-dbg python3.11-venv \
             python3.11-dev libpython3.11-dbg gcc libpython3.11-testsuite) \
            </dev/null >.matrix/logs/apt.log 2>&1 \
            || { echo "$prog: apt-get install python3.11-dbg failed:"; tail -n 20 .matrix/logs/apt.log; }
    fi
    [ "$need_chroot" = 1 ] || return 0
    if [ "$(id -u)" != 0 ]; then
        chroot_error="the chroot runs need root (chroot, mount --bind)"
    elif echo "$prog: preparing the sid chroot (scripts/sid-chroot)" \
        && ! chroot_root=$("$here/scripts/sid-chroot" 2>.matrix/logs/sid-chroot.log); then
        chroot_error="scripts/sid-chroot failed (log: .matrix/logs/sid-chroot.log)"
        tail -n 20 .matrix/logs/sid-chroot.log
    else
        if mount --bind "$here" "$chroot_root/src"; then
            mounted="$chroot_root/src"
            export STATICCALL_MATRIX_CHROOT="$chroot_root"
        fi
        if ! [ -f "$chroot_root/src/scripts/matrix" ]; then
            chroot_error="bind mount of $here at $chroot_root/src failed"
        fi
    fi
}

unmount_chroot() {  # program-name
    if [ -n "$mounted" ]; then
        umount "$mounted" 2>/dev/null || umount -l "$mounted" 2>/dev/null \
            || echo "$1: could not unmount $mounted" >&2
        mounted=""
    fi
}

# The innermost test function (else frame in tests/) in the stack of the log's
# "Fatal Python error" (faulthandler's output), as tests/<file>::<function>.
crash_where() {  # log
    local frames
    frames=$(sed -n '/Fatal Python error/,$p' "$1" \
        | sed -n 's|^ *File "[^"]*/\(tests/[^"]*\)", line [0-9]* in \(.*\)$|\1::\2|p')
    grep -m 1 '::test' <<<"$frames" || head -n 1 <<<"$frames"
}
