#!/bin/sh
# vnx's guest agent (busybox sh). At boot: mounts the configuration drive (an ISO 9660 disk
# labelled VNXCONFIG that vnx builds) and runs its boot.sh (hostname, addresses, routes,
# forwarding, filetrees, on_boot commands), then serves the host on the virtio-serial port
# org.vnx.agent.0. The protocol is one line each way, words separated by spaces:
#   host:  EXEC <id> <base64 of a shell script>
#   guest: DONE <id> <exit status> <base64 of its output, stdout and stderr>
#   host:  PING <id>       guest: PONG <id> <boot id>
# The host drops replies whose id is not the one it waits for (a request of a client that gave
# up may still be answered).
# Put it into another image as /usr/local/sbin/vnx-agent, started at boot with `vnx-agent boot`.
set -u
log() { echo "vnx-agent: $*" > /dev/console 2>/dev/null || true; }

configure() {
  for dev in /dev/vd? /dev/sr?; do
    [ -b "$dev" ] || continue
    if mount -t iso9660 -o ro "$dev" /config 2>/dev/null; then
      if [ -f /config/boot.sh ]; then
        log "configuring from $dev"
        sh /config/boot.sh > /run/boot.log 2>&1
        log "boot.sh exit $?"
        return
      fi
      umount /config
    fi
  done
  log "no configuration drive"
}

serve() {
  port=""
  for i in 1 2 3 4 5 6 7 8 9 10; do
    for p in /sys/class/virtio-ports/*; do
      [ -f "$p/name" ] && [ "$(cat "$p/name")" = org.vnx.agent.0 ] && port="/dev/$(basename "$p")"
    done
    [ -n "$port" ] && break
    sleep 0.2
  done
  [ -n "$port" ] || { log "no agent port"; return; }
  log "serving on $port"
  # A virtio port opens once: one descriptor for both ways.
  exec 3<>"$port"
  while true; do
    while read -r verb id data <&3; do
      case "$verb" in
        PING) echo "PONG $id $(cat /proc/sys/kernel/random/boot_id)" >&3 ;;
        EXEC)
          echo "$data" | base64 -d > /tmp/cmd.sh
          sh /tmp/cmd.sh < /dev/null > /tmp/cmd.out 2>&1
          status=$?
          echo "DONE $id $status $(base64 /tmp/cmd.out | tr -d '\n')" >&3 ;;
        "") ;;
        *) echo "ERROR $verb unknown request" >&3 ;;
      esac
    done
    # The host closed its end: wait for the next connection.
    sleep 0.2
  done
}

case "${1:-}" in
  boot)
    configure
    serve &
    # A shell on the serial console for `vnx console`.
    while true; do setsid -c sh -l < /dev/ttyS0 > /dev/ttyS0 2>&1 || sleep 1; done ;;
  *) echo "usage: vnx-agent boot" >&2; exit 2 ;;
esac
