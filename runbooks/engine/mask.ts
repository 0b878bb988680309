/**
 * Secret masking. Every output path (human, NDJSON, audit log, zx's $.log)
 * passes its final text through one Masker, so a secret cannot slip out by
 * a path that forgot to mask.
 */
export const MASK = '****';

// user:password@ in any URL, and password=... in libpq conninfo strings.
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"']*:)([^@\s"'/]+)(@)/gi;
const CONNINFO_PASSWORD = /(\bpassword\s*=\s*)('[^']*'|[^\s"']+)/gi;
const SECRET_KEY = /(pass(word)?|secret|token|api[_-]?key|private[_-]?key|credential|_AUTH$)/i;

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

  /**
   * Register an environment value. Short values (info, true, 8080) are
   * configuration, not secrets, and masking them would garble ordinary text.
   */
  addEnvValue(value: string): this {
    return value.length >= 6 ? this.add(value) : this;
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

  /**
   * Mask structured output: every string leaf is masked, object keys are
   * not, so a secret that happens to equal a field name cannot break the
   * NDJSON shape.
   */
  maskValue<T>(value: T): T {
    if (typeof value === 'string') return this.mask(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.maskValue(v)) as T;
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.maskValue(v)])) as T;
    }
    return value;
  }

  /** Serialise an event for NDJSON and audit lines, masked leaf by leaf. */
  maskJson(value: unknown): string {
    return JSON.stringify(this.maskValue(value));
  }
}
