#!/bin/sh
# Render the config from the rules, start Asterisk in the background, run the engine.
set -eu
ivr asterisk start
exec ivr serve
