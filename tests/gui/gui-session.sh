# shellcheck shell=bash
# A throw-away desktop session for the gui suite and the GUI benchmarks: a private session
# dbus-daemon, Xvfb, xfwm4 and xfce4-panel with only its status tray (which hosts
# org.kde.StatusNotifierWatcher, so AppIndicators show), in a private HOME/XDG tree.
# Nothing touches the user's own session.  Source it, then:
#
#   gui_session_start                  # sets DISPLAY, DBUS_SESSION_BUS_ADDRESS, HOME, XDG_*,
#                                      # GUI_PANEL_PID
#   gui_bg NAME cmd…                   # background process ($GUI_LAST_PID), killed at exit,
#                                      # log in $GUI_TMP/NAME.log
#   gui_wait SECONDS 'condition'       # poll a condition
#   gui_screenshot FILE                # the whole screen as PNG
#
# Exits 77 (skipped) when Xvfb, xfwm4 or xfce4-panel are missing.  Source tests/support/netns.sh
# first when the test also needs namespaces: the session is torn down first, then its cleanup runs.

set -uo pipefail

GUI_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-gui.XXXXXX")
_gui_pids=()

_gui_cleanup() {
        local rc=$?
        local i
        for ((i = ${#_gui_pids[@]} - 1; i >= 0; i--)); do
                kill "${_gui_pids[$i]}" 2>/dev/null || true
        done
        sleep 0.2
        for pid in "${_gui_pids[@]}"; do
                kill -9 "$pid" 2>/dev/null || true
        done
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
                echo "--- logs of the failed run ($GUI_TMP):" >&2
                for f in "$GUI_TMP"/*.log; do
                        [ -f "$f" ] || continue
                        echo "--- $f" >&2
                        tail -n 40 "$f" >&2
                done
        fi
        rm -rf "$GUI_TMP"
        if declare -F _cleanup >/dev/null; then
                (exit "$rc")
                _cleanup
        fi
        exit "$rc"
}
trap _gui_cleanup EXIT
trap 'exit 130' INT TERM

gui_skip() {
        echo "SKIP: $*"
        exit 77
}

gui_fail() {
        echo "FAIL: $*" >&2
        exit 1
}

gui_wait() {
        local limit=$1 cond=$2 i
        for ((i = 0; i < limit * 10; i++)); do
                eval "$cond" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        return 1
}

gui_bg() {
        local name=$1
        shift
        "$@" >"$GUI_TMP/$name.log" 2>&1 &
        _gui_pids+=($!)
        GUI_LAST_PID=$!
}

_gui_panel_config() {
        local dir="$XDG_CONFIG_HOME/xfce4/xfconf/xfce-perchannel-xml"
        mkdir -p "$dir"
        cat >"$dir/xfce4-panel.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="32"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
        <value type="int" value="2"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
    <property name="plugin-2" type="string" value="systray">
      <property name="square-icons" type="bool" value="true"/>
      <property name="icon-size" type="int" value="24"/>
    </property>
  </property>
</channel>
XML
}

gui_session_start() {
        local c
        for c in Xvfb xfwm4 xfce4-panel dbus-daemon; do
                command -v "$c" >/dev/null 2>&1 || gui_skip "$c not installed (build-aux/install-deps installs it)"
        done
        export HOME="$GUI_TMP/home"
        export XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache" XDG_DATA_HOME="$HOME/.local/share"
        export XDG_RUNTIME_DIR="$GUI_TMP/run" XDG_CURRENT_DESKTOP=XFCE XDG_SESSION_TYPE=x11
        export GDK_BACKEND=x11 NO_AT_BRIDGE=1 GTK_A11Y=none
        mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
        chmod 700 "$XDG_RUNTIME_DIR"
        _gui_panel_config

        # The daemon's environment is what activated services (xfconfd) inherit.
        local addr_file="$GUI_TMP/bus-address"
        gui_bg dbus dbus-daemon --session --nofork --print-address=3 3>"$addr_file" >/dev/null
        gui_wait 10 "test -s '$addr_file'" || gui_fail "dbus-daemon did not start"
        DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$addr_file")
        export DBUS_SESSION_BUS_ADDRESS

        local display_file="$GUI_TMP/display"
        gui_bg xvfb Xvfb -displayfd 4 -screen 0 1024x768x24 -nolisten tcp 4>"$display_file" >/dev/null
        gui_wait 10 "test -s '$display_file'" || gui_fail "Xvfb did not start"
        DISPLAY=":$(head -n1 "$display_file")"
        export DISPLAY

        gui_bg xfwm4 xfwm4 --compositor=off >/dev/null
        gui_bg panel xfce4-panel --disable-wm-check >/dev/null
        GUI_PANEL_PID=$GUI_LAST_PID
        gui_wait 20 "gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
                --method org.freedesktop.DBus.NameHasOwner org.kde.StatusNotifierWatcher | grep -q true" ||
                gui_fail "xfce4-panel's status tray did not register a StatusNotifierWatcher"
}

gui_screenshot() {
        import -window root "$1" || gui_fail "screenshot $1 failed"
}
