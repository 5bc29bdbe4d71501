#!/usr/bin/env bash
# Greets "$1", --count times, upper-cased with --shout=true. Arguments arrive one by one:
# a name such as '$(reboot)' is just text here.
set -euo pipefail
name="$1"; shift
count=1; shout=false
for arg in "$@"; do
  case "$arg" in
    --count=*) count="${arg#--count=}" ;;
    --shout=*) shout="${arg#--shout=}" ;;
  esac
done
line="Hello, ${name}!"
if [ "$shout" = "true" ]; then line="${line^^}"; fi
for _ in $(seq 1 "$count"); do printf '%s\n' "$line"; done
