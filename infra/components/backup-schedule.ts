import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface ScheduledBackup {
  /** The backup.ts command: postgres, redis or qdrant. */
  readonly store: string;
  /** EventBridge cron in UTC, e.g. cron(0 3 * * ? *). */
  readonly cron: string;
}

export interface BackupScheduleArgs {
  readonly backups: ScheduledBackup[];
  readonly timezone: 'UTC';
  /** The runbook image (see Dockerfile), pinned. */
  readonly image: string;
  readonly subnetIds: pulumi.Input<string>[];
  readonly vpcId: pulumi.Input<string>;
  readonly bucketArn: pulumi.Input<string>;
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Environment for the runbook container (BACKUP_REPO, DATABASE_URL, …). */
  readonly environment: pulumi.Input<Record<string, pulumi.Input<string>>>;
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

const assume = (service: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] });

/**
 * EventBridge Scheduler → an ECS Fargate task running the backup runbook.
 * Explicit UTC crons, retries, an SQS dead-letter queue, and least-privilege
 * roles: the scheduler may pass only the task and execution roles.
 */
export class BackupSchedule extends pulumi.ComponentResource {
  readonly schedules: aws.scheduler.Schedule[] = [];
  readonly deadLetterQueue: aws.sqs.Queue;

  constructor(name: string, args: BackupScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:backup:BackupSchedule', name, {}, opts);
    const child = { parent: this };
    const region = aws.getRegionOutput({}, child).region;
    const account = aws.getCallerIdentityOutput({}, child).accountId;

    const cluster = new aws.ecs.Cluster(`${name}-cluster`, { tags: args.tags }, child);
    const logs = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: 30, tags: args.tags }, child);
    this.deadLetterQueue = new aws.sqs.Queue(`${name}-dlq`, { messageRetentionSeconds: 1_209_600, sqsManagedSseEnabled: true, tags: args.tags }, child);

    const executionRole = new aws.iam.Role(`${name}-execution`, { assumeRolePolicy: assume('ecs-tasks.amazonaws.com'), tags: args.tags }, child);
    new aws.iam.RolePolicy(`${name}-execution-logs`, {
      role: executionRole.id,
      policy: pulumi.jsonStringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [pulumi.interpolate`${logs.arn}:log-stream:*`] }] }),
    }, child);
    const taskRole = new aws.iam.Role(`${name}-task`, { assumeRolePolicy: assume('ecs-tasks.amazonaws.com'), tags: args.tags }, child);
    new aws.iam.RolePolicy(`${name}-task-repository`, {
      role: taskRole.id,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [args.bucketArn] },
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], Resource: [pulumi.interpolate`${args.bucketArn}/*`] },
          { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: [args.kmsKeyArn] },
        ],
      }),
    }, child);

    const securityGroup = new aws.ec2.SecurityGroup(`${name}-task-sg`, {
      vpcId: args.vpcId,
      description: 'backup tasks: outbound only',
      egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }],
      tags: args.tags,
    }, child);
    const taskDefinition = new aws.ecs.TaskDefinition(`${name}-task`, {
      family: `${name}-backup`,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '1024',
      memory: '2048',
      executionRoleArn: executionRole.arn,
      taskRoleArn: taskRole.arn,
      containerDefinitions: pulumi.jsonStringify([{
        name: 'runbook',
        image: args.image,
        essential: true,
        command: ['runbooks/backup.ts', 'all', '--json'],
        environment: pulumi.output(args.environment).apply((e) => Object.entries(e).map(([n, value]) => ({ name: n, value }))),
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': logs.name, 'awslogs-region': region, 'awslogs-stream-prefix': 'backup' } },
      }]),
      tags: args.tags,
    }, child);

    const schedulerRole = new aws.iam.Role(`${name}-scheduler`, { assumeRolePolicy: assume('scheduler.amazonaws.com'), tags: args.tags }, child);
    new aws.iam.RolePolicy(`${name}-scheduler-run`, {
      role: schedulerRole.id,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['ecs:RunTask'],
            Resource: [pulumi.interpolate`arn:aws:ecs:${region}:${account}:task-definition/${taskDefinition.family}:*`],
            Condition: { ArnEquals: { 'ecs:cluster': cluster.arn } },
          },
          // Only the two roles the task needs: never iam:PassRole on *.
          { Effect: 'Allow', Action: ['iam:PassRole'], Resource: [taskRole.arn, executionRole.arn] },
          { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [this.deadLetterQueue.arn] },
        ],
      }),
    }, child);

    for (const backup of args.backups) {
      this.schedules.push(new aws.scheduler.Schedule(`${name}-${backup.store}`, {
        description: `tickvault: backup ${backup.store} daily`,
        scheduleExpression: backup.cron,
        scheduleExpressionTimezone: args.timezone,
        flexibleTimeWindow: { mode: 'OFF' },
        target: {
          arn: cluster.arn,
          roleArn: schedulerRole.arn,
          ecsParameters: {
            taskDefinitionArn: taskDefinition.arn,
            launchType: 'FARGATE',
            taskCount: 1,
            networkConfiguration: { subnets: args.subnetIds, securityGroups: [securityGroup.id], assignPublicIp: false },
          },
          input: JSON.stringify({ containerOverrides: [{ name: 'runbook', command: ['runbooks/backup.ts', backup.store, '--json'] }] }),
          retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
          deadLetterConfig: { arn: this.deadLetterQueue.arn },
        },
      }, child));
    }
    this.registerOutputs({ deadLetterQueue: this.deadLetterQueue.url });
  }
}
