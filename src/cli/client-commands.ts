// Device-side commands (register, sync, watch, status, ...): filled in by the client.
import type { Command } from 'commander';

export function registerClientCommands(_program: Command): void {}
