// Loaded through NODE_OPTIONS=--import: writes Node's own flags and the command's arguments to $PRINT_ARGV_FILE.
import fs from 'node:fs';
fs.writeFileSync(process.env.PRINT_ARGV_FILE, JSON.stringify({ execArgv: process.execArgv, argv: process.argv.slice(2) }));
