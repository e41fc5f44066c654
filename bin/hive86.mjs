#!/usr/bin/env node
// Entry point of `npx hive86`: lets Node load the TypeScript sources through
// tsx, then hands the arguments to src/cli/main.ts.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
