#!/usr/bin/env node
// Entry point installed as the `runtrail` command; the compiled CLI lives in dist/.
import '../dist/src/cli/main.js';
