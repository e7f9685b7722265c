#!/usr/bin/env node
// raftctl's executable (package.json "bin"): registers tsx so Node 20 runs the TypeScript
// sources as they are, then runs the CLI (src/client/raftctl.ts) and exits with its status.
import { register } from 'tsx/esm/api';

register();
const { runRaftctl } = await import('../src/client/raftctl.ts');
process.exitCode = await runRaftctl(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
