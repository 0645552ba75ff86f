/** The part of glossy (syslog producer/parser) that bqgate uses. */
declare module 'glossy' {
  interface ProduceOptions {
    facility?: string; severity?: string; date?: Date; host?: string; appName?: string; pid?: number | string;
    msgID?: string; structuredData?: Record<string, Record<string, string>>; message?: string;
  }
  class Produce {
    constructor(options: { type: 'RFC5424' | 'RFC3164'; appName?: string; pid?: number; host?: string; facility?: string });
    produce(options: ProduceOptions): string | false;
  }
  const glossy: { Produce: typeof Produce; Parse: { parse(message: string): Record<string, unknown> } };
  export default glossy;
}
