#!/usr/bin/env bash
# Sleeps for the number of seconds given as first argument.
case "$1" in
  ''|*[!0-9]*) echo "max_pause must be a whole number of seconds" >&2; exit 2 ;;
esac
exec sleep "$1"
