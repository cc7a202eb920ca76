# Shell helpers the bench/ scripts share; sourced, never run. It defines functions only.
#
# apt_install PACKAGES...: installs them with apt-get (through `sudo -n` unless root), running
#   `apt-get update` once if the first try fails; returns 1 when the caller's INSTALL is not 1,
#   when there is no apt-get, or when the packages cannot be installed.
# find_tool COMMAND: prints its path, also from /usr/sbin, which a non-root PATH may lack.

APT_UPDATED=0
apt_install() {
    [ "${INSTALL:-1}" = 1 ] || return 1
    command -v apt-get >/dev/null || return 1
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo -n)
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null 2>&1; then
        if [ $APT_UPDATED = 0 ]; then
            APT_UPDATED=1
            "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 || true
        fi
        "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null 2>&1 || return 1
    fi
}

find_tool() {
    command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; }
}
