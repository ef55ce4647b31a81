#!/usr/bin/env node
// The installed `kvmerger` command. A committed file with its run bit, so the bin is executable however npm links it
// (the compiled dist/cli/main.js is written by `prepare` after linking and has no run bit of its own).
import '../dist/cli/main.js';
