#!/bin/sh
# piccl's container entrypoint (PID 1 is tini, which runs this script).
#
# As root: make a user and group with PUID/PGID (default 1000/1000; Unraid 99/100, Synology 1026/100),
# give that user the data folder (only what it does not own yet), check that it can read the library
# (and write to it: Trash and XMP sidecars), apply UMASK, fetch the models piccl lacks, then run the
# command as that user. Started as another user already (docker run --user), it runs the command as is.
#
# Paths come from the settings piccl reads itself, so that this script and piccl agree:
#   PICCL_DATA_DIR    the data folder (default /config)
#   PICCL_LIBRARY     the library: folders and/or WebDAV URLs, ':'-separated (default /photos)
#   PICCL_MODELS_DIR  a folder of model files looked up before <data dir>/models
# Variables of this script only (never PICCL_*: piccl refuses PICCL_ names it does not know):
#   PUID, PGID, UMASK, MODELS_FETCH_TIMEOUT (seconds, default 300)
#
# One line per event on stderr; no value of any variable that may hold a secret is ever printed.

set -eu

log() {
    printf 'entrypoint: %s\n' "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

is_number() {
    case $1 in
        '' | *[!0-9]*) return 1 ;;
        *) return 0 ;;
    esac
}

is_url() {
    case $1 in
        [Hh][Tt][Tt][Pp]://* | [Hh][Tt][Tt][Pp][Ss]://*) return 0 ;;
        *) return 1 ;;
    esac
}

# The libraries of PICCL_LIBRARY, one per line, split as plugin.config.split_libraries does: on ':',
# except that a URL keeps its own colons and ends at a ':' followed by '/' or by another URL.
split_libraries() {
    rest=$1
    case $rest in
        *://*) ;;
        *)
            printf '%s\n' "$rest" | tr ':' '\n'
            return 0
            ;;
    esac
    while [ -n "$rest" ]; do
        if is_url "$rest"; then
            scheme=${rest%%://*}
            body=${rest#*://}
            item=$body
            for sep in ':/' ':http://' ':https://' ':HTTP://' ':HTTPS://'; do
                item=${item%%"$sep"*}
            done
            printf '%s://%s\n' "$scheme" "$item"
            rest=${body#"$item"}
        else
            item=${rest%%:*}
            printf '%s\n' "$item"
            rest=${rest#"$item"}
        fi
        rest=${rest#:}
    done
}

is_false() {
    case $(printf '%s' "$1" | tr '[:upper:]' '[:lower:]') in
        0 | false | f | no | n | off) return 0 ;;
        *) return 1 ;;
    esac
}

# Run a command as the user piccl runs as (this process when no switch is needed).
as_user() {
    if [ "$switch_user" = no ]; then
        "$@"
    elif [ "$init_groups" = yes ]; then
        setpriv --reuid="$PUID" --regid="$PGID" --init-groups -- "$@"
    else
        setpriv --reuid="$PUID" --regid="$PGID" --clear-groups -- "$@"
    fi
}

# A user and group with PUID/PGID: existing ones are used as they are (Debian's "users" is gid 100),
# else a user and group "piccl" are made or renumbered.
ensure_user() {
    group=$(getent group "$PGID" | cut -d: -f1) || group=
    if [ -z "$group" ]; then
        group=piccl
        if getent group piccl >/dev/null; then
            if out=$(groupmod --gid "$PGID" piccl 2>&1); then
                log "group piccl renumbered to gid $PGID"
            else
                log "warning: could not renumber group piccl to gid $PGID: $out"
            fi
        elif out=$(groupadd --gid "$PGID" piccl 2>&1); then
            log "created group piccl (gid $PGID)"
        else
            log "warning: could not create group piccl (gid $PGID): $out"
            group="gid $PGID"
        fi
    fi
    user=$(getent passwd "$PUID" | cut -d: -f1) || user=
    if [ -n "$user" ]; then
        log "running as user $user (uid $PUID), group gid $PGID"
        return 0
    fi
    if getent passwd piccl >/dev/null; then
        out=$(usermod --uid "$PUID" --gid "$PGID" piccl 2>&1) || {
            log "warning: could not renumber user piccl to uid $PUID: $out"
            init_groups=no
            return 0
        }
        log "user piccl renumbered to uid $PUID, gid $PGID"
    else
        out=$(useradd --uid "$PUID" --gid "$PGID" --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin piccl 2>&1) || {
            log "warning: could not create user piccl (uid $PUID): $out; running without a user name"
            init_groups=no
            return 0
        }
        log "created user piccl (uid $PUID) in group $group (gid $PGID)"
    fi
}

# The data folder belongs to the user; it is walked once and changed only when something in it is not
# the user's already, so a restart costs one look.
own_data_dir() {
    if [ ! -d "$data_dir" ]; then
        mkdir -p "$data_dir" || die "cannot create the data folder $data_dir"
        log "created the data folder $data_dir"
    fi
    stranger=$(find "$data_dir" \( ! -user "$PUID" -o ! -group "$PGID" \) -print -quit 2>/dev/null) || stranger=
    if [ -n "$stranger" ]; then
        if chown -R "$PUID:$PGID" "$data_dir" 2>/dev/null; then
            log "set owner of $data_dir to $PUID:$PGID"
        else
            log "warning: could not change the owner of everything in $data_dir to $PUID:$PGID"
        fi
    fi
}

check_data_dir() {
    if ! as_user test -w "$data_dir" || ! as_user test -x "$data_dir"; then
        die "the data folder $data_dir is not writable by uid $run_uid gid $run_gid: give that user write access, or set PUID/PGID to its owner"
    fi
}

check_library() {
    libs=$(split_libraries "$library")
    while IFS= read -r lib; do
        [ -n "$lib" ] || continue
        is_url "$lib" && continue  # a WebDAV library: `piccl doctor` checks it with the configured user
        if [ ! -d "$lib" ]; then
            log "warning: library $lib is not a folder: mount your photos there (or set PICCL_LIBRARY)"
        elif ! as_user test -r "$lib" || ! as_user test -x "$lib"; then
            log "warning: library $lib is not readable by uid $run_uid gid $run_gid: nothing can be scanned; give that user read access, or set PUID/PGID to the owner of the photos"
        elif ! as_user test -w "$lib"; then
            if is_false "${PICCL_XMP__ENABLED:-true}"; then
                log "warning: library $lib is not writable by uid $run_uid gid $run_gid: Trash will fail; give that user write access (read-write mount) to use it"
            else
                log "warning: library $lib is not writable by uid $run_uid gid $run_gid: Trash and XMP sidecars will fail; give that user write access (read-write mount), or set PICCL_XMP__ENABLED=false and do without Trash"
            fi
        fi
    done <<EOF
$libs
EOF
}

# piccl itself decides whether the models are there: `piccl models verify` exits 0 when every model of the
# manifest is found (PICCL_MODELS_DIR, then <data dir>/models) and its sha256 matches, 1 otherwise; it never
# downloads. When it fails, `piccl models fetch` downloads only what is missing or wrong, so a first fetch cut
# short (no internet at first boot) is finished on a later start. A model without a download (EfficientNet-Lite0)
# makes that fetch fail at once, without a network call: one quick try per start, and piccl's own lines say
# which model is missing and where to put it.
check_models() {
    timeout_s=${MODELS_FETCH_TIMEOUT:-300}
    is_number "$timeout_s" || die "MODELS_FETCH_TIMEOUT must be a number of seconds"
    status=0
    verify=$(as_user timeout "$timeout_s" piccl models verify 2>&1) || status=$?
    if [ "$status" -eq 0 ]; then
        log "models found (every model present, sha256 checked)"
        return 0
    fi
    if is_false "${PICCL_INFERENCE__DOWNLOAD:-true}"; then
        [ -z "$verify" ] || printf '%s\n' "$verify" >&2
        log "not every model is installed (see above) and PICCL_INFERENCE__DOWNLOAD is off: not fetching; analyzers without a model report 'not installed'"
        return 0
    fi
    log "not every model is installed: fetching what is missing into $data_dir/models (at most ${timeout_s}s)"
    status=0
    as_user timeout "$timeout_s" piccl models fetch >&2 || status=$?
    if [ "$status" -eq 0 ]; then
        log "models fetched"
    elif [ "$status" -eq 124 ]; then
        log "warning: fetching models took longer than ${timeout_s}s and was stopped; analyzers without a model report 'not installed'; the next start tries again (or run 'piccl models fetch')"
    else
        log "warning: not every model could be fetched (exit $status; the lines above name each missing model); analyzers without a model report 'not installed'; the next start tries again, and a model without a download must be put into $data_dir/models or PICCL_MODELS_DIR"
    fi
}

# useradd and friends live in sbin, which a minimal PATH may lack.
case ":$PATH:" in
    *:/usr/sbin:*) ;;
    *) PATH=$PATH:/usr/sbin:/sbin ;;
esac

data_dir=${PICCL_DATA_DIR:-/config}
library=${PICCL_LIBRARY:-/photos}
switch_user=no
init_groups=yes

if [ "$#" -eq 0 ]; then
    set -- piccl run
fi

if [ -n "${UMASK:-}" ]; then
    case $UMASK in
        [0-7][0-7][0-7] | [0-7][0-7][0-7][0-7])
            umask "$UMASK"
            log "umask $UMASK"
            ;;
        *) die "UMASK must be an octal mask such as 022 or 002" ;;
    esac
fi

if [ "$(id -u)" -eq 0 ]; then
    PUID=${PUID:-1000}
    PGID=${PGID:-1000}
    is_number "$PUID" || die "PUID must be a number (the uid that owns your photos; 'id' on the NAS tells it)"
    is_number "$PGID" || die "PGID must be a number (the gid that owns your photos; 'id' on the NAS tells it)"
    if [ "$PUID" -eq 0 ]; then
        log "warning: PUID=0: piccl runs as root"
        PGID=0
    else
        switch_user=yes
        ensure_user
    fi
    own_data_dir
else
    PUID=$(id -u)
    PGID=$(id -g)
    log "started as uid $PUID gid $PGID: running as that user (PUID/PGID apply only when started as root)"
    [ -d "$data_dir" ] || mkdir -p "$data_dir" || die "cannot create the data folder $data_dir"
fi
run_uid=$PUID
run_gid=$PGID
if [ "$switch_user" = yes ]; then
    # The user's own home is /nonexistent; anything that writes under $HOME gets the data folder.
    HOME=$data_dir
    export HOME
fi

check_data_dir
check_library
check_models

log "starting: $1 (uid $run_uid gid $run_gid)"
if [ "$switch_user" = no ]; then
    exec "$@"
elif [ "$init_groups" = yes ]; then
    exec setpriv --reuid="$PUID" --regid="$PGID" --init-groups -- "$@"
else
    exec setpriv --reuid="$PUID" --regid="$PGID" --clear-groups -- "$@"
fi
