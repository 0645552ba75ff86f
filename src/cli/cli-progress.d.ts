/** The part of cli-progress (https://github.com/npkg/cli-progress, no bundled types) `policy diff` uses. */
declare module 'cli-progress' {
  export class SingleBar {
    constructor(options: { format?: string; stream?: NodeJS.WritableStream; clearOnComplete?: boolean; hideCursor?: boolean }, preset?: unknown);
    start(total: number, value: number, payload?: Record<string, unknown>): void;
    update(value: number, payload?: Record<string, unknown>): void;
    stop(): void;
  }
  export const Presets: { shades_classic: unknown };
}
