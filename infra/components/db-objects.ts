import * as postgresql from '@pulumi/postgresql';
import * as pulumi from '@pulumi/pulumi';
import { generatedPassword } from './store-secrets';

export interface DbObjectsArgs {
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  readonly database: string;
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
  readonly sslmode: 'disable' | 'require' | 'verify-full';
  readonly schemas: string[];
  readonly timescaledb: boolean;
  /** false on managed PostgreSQL; true for the dev container's superuser. */
  readonly superuser: boolean;
}

/** The login roles DbObjects creates. */
export const DB_ROLES = ['migrator', 'app', 'readonly'] as const;

/**
 * Database objects through @pulumi/postgresql: the extension, schemas,
 * migrator/app/readonly roles, grants, default privileges owned by the
 * migrator (the role that creates tables), and PUBLIC's rights revoked.
 * The server must be reachable at preview time: keep this in its own stack
 * where that is awkward.
 */
export class DbObjects extends pulumi.ComponentResource {
  /** Each role's generated password (secret). */
  readonly passwords: Record<(typeof DB_ROLES)[number], pulumi.Output<string>>;

  constructor(name: string, args: DbObjectsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:database:DbObjects', name, {}, opts);
    const provider = new postgresql.Provider(`${name}-provider`, {
      host: args.host,
      port: args.port,
      username: args.username,
      password: args.password,
      sslmode: args.sslmode,
      database: args.database,
      superuser: args.superuser,
    }, { parent: this, dependsOn: opts?.dependsOn });
    const child = { parent: this, provider };

    if (args.timescaledb) new postgresql.Extension(`${name}-timescaledb`, { name: 'timescaledb', database: args.database }, child);

    // Login roles with generated passwords: a role without one cannot log in over TCP (or logs in with none on trust).
    const password = Object.fromEntries(DB_ROLES.map((r) => [r, generatedPassword(`${name}-${r}-password`, 32, this).result])) as Record<(typeof DB_ROLES)[number], pulumi.Output<string>>;
    const role = (r: (typeof DB_ROLES)[number], extra: Partial<postgresql.RoleArgs> = {}) =>
      new postgresql.Role(`${name}-${r}`, { name: `tickvault_${r}`, login: true, password: password[r], ...extra }, { ...child, additionalSecretOutputs: ['password'] });
    const migrator = role('migrator', { createRole: false });
    const app = role('app');
    const readonly = role('readonly');
    this.passwords = password;

    new postgresql.Grant(`${name}-revoke-public-database`, { database: args.database, role: 'public', objectType: 'database', privileges: [] }, child);
    new postgresql.Grant(`${name}-revoke-public-schema`, { database: args.database, role: 'public', schema: 'public', objectType: 'schema', privileges: [] }, child);

    for (const schemaName of [...args.schemas, 'tickvault']) {
      const schema = new postgresql.Schema(`${name}-schema-${schemaName}`, { name: schemaName, database: args.database, owner: migrator.name }, child);
      const on = { database: args.database, schema: schema.name };
      new postgresql.Grant(`${name}-${schemaName}-app-usage`, { ...on, role: app.name, objectType: 'schema', privileges: ['USAGE'] }, child);
      new postgresql.Grant(`${name}-${schemaName}-readonly-usage`, { ...on, role: readonly.name, objectType: 'schema', privileges: ['USAGE'] }, child);
      // Tables the migrator creates later get these rights automatically.
      new postgresql.DefaultPrivileges(`${name}-${schemaName}-app-tables`, { ...on, owner: migrator.name, role: app.name, objectType: 'table', privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] }, child);
      new postgresql.DefaultPrivileges(`${name}-${schemaName}-readonly-tables`, { ...on, owner: migrator.name, role: readonly.name, objectType: 'table', privileges: ['SELECT'] }, child);
      new postgresql.DefaultPrivileges(`${name}-${schemaName}-app-sequences`, { ...on, owner: migrator.name, role: app.name, objectType: 'sequence', privileges: ['USAGE', 'SELECT'] }, child);
    }
    this.registerOutputs({ roles: [migrator.name, app.name, readonly.name], passwords: pulumi.secret(this.passwords) });
  }
}
