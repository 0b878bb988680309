/**
 * Where child-process commands are recorded: the current run's audit log
 * (masked there). The CLI sets it; this module imports nothing, so tools
 * that run commands without zx (engine/tool.ts) cost nothing at start-up.
 */
type Sink = (record: Record<string, unknown>) => void;

let sink: Sink | undefined;

export function setCommandLog(to: Sink | undefined): void {
  sink = to;
}

export function logCommand(record: Record<string, unknown>): void {
  sink?.(record);
}
