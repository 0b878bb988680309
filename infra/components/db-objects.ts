import * as postgresql from '@pulumi/postgresql';
import * as pulumi from '@pulumi/pulumi';

export interface DbObjectsArgs {
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  readonly database: string;
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
  readonly sslmode: string;
  readonly schemas: string[];
  readonly timescaledb: boolean;
}

/**
 * Database objects through @pulumi/postgresql: the extension, schemas,
 * migrator/app/readonly roles, grants, default privileges owned by the
 * migrator (the role that creates tables), and PUBLIC's rights revoked.
 * The server must be reachable at preview time: keep this in its own stack
 * where that is awkward.
 */
export class DbObjects extends pulumi.ComponentResource {
  constructor(name: string, args: DbObjectsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:database:DbObjects', name, {}, opts);
    const provider = new postgresql.Provider(`${name}-provider`, {
      host: args.host,
      port: args.port,
      username: args.username,
      password: args.password,
      sslmode: args.sslmode,
      database: args.database,
      superuser: false, // managed PostgreSQL: no superuser
    }, { parent: this });
    const child = { parent: this, provider };

    if (args.timescaledb) new postgresql.Extension(`${name}-timescaledb`, { name: 'timescaledb', database: args.database }, child);

    const migrator = new postgresql.Role(`${name}-migrator`, { name: 'tickvault_migrator', login: true, createRole: false }, child);
    const app = new postgresql.Role(`${name}-app`, { name: 'tickvault_app', login: true }, child);
    const readonly = new postgresql.Role(`${name}-readonly`, { name: 'tickvault_readonly', login: true }, child);

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
    this.registerOutputs({});
  }
}
