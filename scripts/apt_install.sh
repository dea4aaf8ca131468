# Sourced by scripts/ensure_postgres.sh and scripts/ensure_redis.sh (needs their `say` and
# `die`): install a Debian package once per machine, as root or through password-less sudo.
#
#   apt_install PACKAGE    what the caller's server needs (postgresql, redis-server)

apt_install() {
    local package=$1
    command -v apt-get >/dev/null || die "$package is not installed and apt-get is missing"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "$package is not installed; run as root or install it"
        sudo=(sudo -n)
    fi
    say "installing $package with apt-get (once per machine)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$package" >&2
}
