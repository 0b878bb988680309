/**
 * Secret masking. Every output path (human, NDJSON, audit log, zx's $.log)
 * passes its final text through one Masker, so a secret cannot slip out by
 * a path that forgot to mask.
 */
export const MASK = '****';

// user:password@ in any URL, and password=... in libpq conninfo strings.
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"']*:)([^@\s"'/]+)(@)/gi;
const CONNINFO_PASSWORD = /(\bpassword\s*=\s*)('[^']*'|[^\s"']+)/gi;
const SECRET_KEY = /(pass(word)?|secret|token|api[_-]?key|private[_-]?key|credential)/i;

export class Masker {
  private readonly secrets = new Set<string>();

  /** Register a secret; its raw, URL-encoded and JSON-escaped forms are masked. */
  add(secret: string | undefined | null): this {
    if (!secret || secret.length < 4 || secret === MASK) return this;
    for (const form of [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]) {
      this.secrets.add(form);
    }
    return this;
  }

  /** Register the password of a connection URL. */
  addUrl(url: string | undefined): this {
    if (!url) return this;
    try {
      const parsed = new URL(url);
      if (parsed.password) {
        this.add(decodeURIComponent(parsed.password));
        this.add(parsed.password);
      }
    } catch {
      /* not a URL: nothing to register */
    }
    return this;
  }

  /** Register values of env-like entries whose key names a secret. */
  addFromEnv(env: Record<string, string | undefined>): this {
    for (const [key, value] of Object.entries(env)) {
      if (!value) continue;
      if (SECRET_KEY.test(key)) this.add(value);
      if (/_URL$|^BACKUP_REPO$/.test(key)) this.addUrl(value);
    }
    return this;
  }

  mask(text: string): string {
    let out = text.replace(URL_PASSWORD, `$1${MASK}$3`).replace(CONNINFO_PASSWORD, `$1${MASK}`);
    // Longest first so a secret containing another is masked whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      if (out.includes(secret)) out = out.split(secret).join(MASK);
    }
    return out;
  }

  /** Mask a value for structured output: strings masked, objects walked. */
  maskValue<T>(value: T): T {
    return JSON.parse(this.mask(JSON.stringify(value ?? null))) as T;
  }
}
