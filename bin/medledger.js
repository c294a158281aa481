#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx: no separate build step for users.
import { register } from 'tsx/esm/api'

register()
const { run } = await import('../src/cli/main.ts')
run()
