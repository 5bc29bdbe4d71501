#!/usr/bin/env bash
# Prints its first argument as it is.
printf '%s\n' "$1"
