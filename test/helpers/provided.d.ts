import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared local stack started by global-setup.ts. */
    stack: { home: string; postgresUrl: string; redisUrl: string; s3Endpoint: string; bucket: string };
  }
}
