import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { RunbookJob, SettingName } from '../jobs';

/** Where the image's runbooks keep their audit log and locks (see Dockerfile: writable by `node`). */
export const TASK_HOME = '/var/lib/tickvault';

export interface BackupScheduleArgs {
  readonly jobs: RunbookJob[];
  readonly timezone: 'UTC';
  /** The runbook image (see Dockerfile), pinned by digest. */
  readonly image: string;
  readonly subnetIds: pulumi.Input<string>[];
  readonly vpcId: pulumi.Input<string>;
  readonly region: string;
  readonly bucketArn: pulumi.Input<string>;
  readonly kmsKeyArn: pulumi.Input<string>;
  /** The runbook repository prefix the tasks may write (`<env>/`). */
  readonly repoPrefix: string;
  /** Plain values for the settings jobs read (never credentials). */
  readonly values: Partial<Record<SettingName, pulumi.Input<string>>>;
  /** Secrets Manager ARNs for the secret settings jobs read. */
  readonly secretArns: Partial<Record<SettingName, pulumi.Input<string>>>;
  /** Fargate ephemeral storage (GiB): logical dumps are staged on it. */
  readonly storageGiB: number;
  /** Extra task-role statements (ElastiCache snapshots, CloudWatch metrics). */
  readonly taskStatements: pulumi.Input<unknown>[];
}

const assume = (service: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] });

/** What a job's container declares: each setting it reads, as environment or secret, and nothing else. */
export function containerSettings(job: RunbookJob, values: BackupScheduleArgs['values'], secretArns: BackupScheduleArgs['secretArns']) {
  const environment: { name: string; value: pulumi.Input<string> }[] = [];
  const secrets: { name: string; valueFrom: pulumi.Input<string> }[] = [];
  for (const setting of job.settings) {
    if (setting.secret) {
      const arn = secretArns[setting.name];
      if (!arn) throw new Error(`job ${job.id}: no secret for ${setting.name}`);
      secrets.push({ name: setting.name, valueFrom: arn });
    } else {
      const value = values[setting.name];
      if (value === undefined) throw new Error(`job ${job.id}: no value for ${setting.name}`);
      environment.push({ name: setting.name, value });
    }
  }
  return { environment, secrets };
}

/**
 * EventBridge Scheduler → one ECS Fargate task definition per runbook job.
 * Each container gets exactly the settings its job reads: plain values as
 * `environment`, credentials as `secrets` from Secrets Manager, which only
 * the execution role may read (exactly those ARNs). Explicit UTC crons,
 * retries, an SQS dead-letter queue; the scheduler may pass only the task
 * and execution roles. A container that exits non-zero is caught by
 * BackupAlarms, not here.
 */
export class BackupSchedule extends pulumi.ComponentResource {
  readonly schedules: aws.scheduler.Schedule[] = [];
  readonly deadLetterQueue: aws.sqs.Queue;
  readonly cluster: aws.ecs.Cluster;
  readonly taskDefinitions: Record<string, aws.ecs.TaskDefinition> = {};

  constructor(name: string, args: BackupScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:backup:BackupSchedule', name, {}, opts);
    const child = { parent: this };
    const account = aws.getCallerIdentityOutput({}, child).accountId;

    this.cluster = new aws.ecs.Cluster(`${name}-cluster`, {}, child);
    const logs = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: 30 }, child);
    this.deadLetterQueue = new aws.sqs.Queue(`${name}-dlq`, { messageRetentionSeconds: 1_209_600, sqsManagedSseEnabled: true }, child);

    // containerSettings() below refuses a job whose secret has no ARN; here: every ARN some job declares.
    const usedSecretArns = [...new Set(args.jobs.flatMap((j) => j.settings.filter((s) => s.secret).map((s) => s.name)))].flatMap((n) => args.secretArns[n] ?? []);
    const executionRole = new aws.iam.Role(`${name}-execution`, { assumeRolePolicy: assume('ecs-tasks.amazonaws.com') }, child);
    new aws.iam.RolePolicy(`${name}-execution-logs`, {
      role: executionRole.id,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [pulumi.interpolate`${logs.arn}:log-stream:*`] },
          // The container's `secrets`: exactly the secrets the jobs declare.
          { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: usedSecretArns },
        ],
      }),
    }, child);
    const taskRole = new aws.iam.Role(`${name}-task`, { assumeRolePolicy: assume('ecs-tasks.amazonaws.com') }, child);
    new aws.iam.RolePolicy(`${name}-task-repository`, {
      role: taskRole.id,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [args.bucketArn], Condition: { StringLike: { 's3:prefix': [`${args.repoPrefix}*`] } } },
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], Resource: [pulumi.interpolate`${args.bucketArn}/${args.repoPrefix}*`] },
          { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: [args.kmsKeyArn] },
          ...args.taskStatements,
        ],
      }),
    }, child);

    const securityGroup = new aws.ec2.SecurityGroup(`${name}-task-sg`, {
      vpcId: args.vpcId,
      description: 'runbook tasks: outbound HTTPS and the stores only',
      egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], description: 'stores, AWS APIs, registry' }],
    }, child);

    const schedulerRole = new aws.iam.Role(`${name}-scheduler`, { assumeRolePolicy: assume('scheduler.amazonaws.com') }, child);
    for (const job of args.jobs) {
      const { environment, secrets } = containerSettings(job, args.values, args.secretArns);
      const taskDefinition = new aws.ecs.TaskDefinition(`${name}-${job.id}`, {
        family: `tickvault-${job.id}`,
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '1024',
        memory: '4096',
        ephemeralStorage: { sizeInGib: args.storageGiB },
        executionRoleArn: executionRole.arn,
        taskRoleArn: taskRole.arn,
        containerDefinitions: pulumi.jsonStringify([{
          name: 'runbook',
          image: args.image,
          essential: true,
          ...(job.entryPoint ? { entryPoint: job.entryPoint } : {}),
          command: job.command,
          environment,
          secrets,
          logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': logs.name, 'awslogs-region': args.region, 'awslogs-stream-prefix': job.id } },
        }]),
      }, child);
      this.taskDefinitions[job.id] = taskDefinition;
      const store = /^backup-(\w+)$/.exec(job.id)?.[1];
      this.schedules.push(new aws.scheduler.Schedule(`${name}-${job.id}`, {
        description: `tickvault: ${job.description}`,
        scheduleExpression: job.cron,
        scheduleExpressionTimezone: args.timezone,
        flexibleTimeWindow: { mode: 'OFF' },
        target: {
          arn: this.cluster.arn,
          roleArn: schedulerRole.arn,
          ecsParameters: {
            taskDefinitionArn: taskDefinition.arn,
            launchType: 'FARGATE',
            taskCount: 1,
            networkConfiguration: { subnets: args.subnetIds, securityGroups: [securityGroup.id], assignPublicIp: false },
          },
          retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
          deadLetterConfig: { arn: this.deadLetterQueue.arn },
        },
        // The three backup schedules were named `${name}-<store>` before the upkeep jobs joined them.
      }, { ...child, ...(store ? { aliases: [{ name: `${name}-${store}` }] } : {}) }));
    }

    new aws.iam.RolePolicy(`${name}-scheduler-run`, {
      role: schedulerRole.id,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['ecs:RunTask'],
            Resource: Object.values(this.taskDefinitions).map((t) => pulumi.interpolate`arn:aws:ecs:${args.region}:${account}:task-definition/${t.family}:*`),
            Condition: { ArnEquals: { 'ecs:cluster': this.cluster.arn } },
          },
          // Only the two roles the task needs: never iam:PassRole on *.
          { Effect: 'Allow', Action: ['iam:PassRole'], Resource: [taskRole.arn, executionRole.arn] },
          { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [this.deadLetterQueue.arn] },
        ],
      }),
    }, child);

    this.registerOutputs({
      cluster: this.cluster.arn,
      deadLetterQueue: this.deadLetterQueue.url,
      schedules: this.schedules.map((s) => s.name),
      taskDefinitions: Object.values(this.taskDefinitions).map((t) => t.arn),
    });
  }
}
