import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

/** What the runbooks publish (runbooks/repository/freshness-metric.ts) and the alarms read. */
export const FRESHNESS_NAMESPACE = 'Tickvault/Backups';
export const FRESHNESS_METRIC = 'NewestGoodBackupAgeHours';
export const WAL_NAMESPACE = 'Tickvault/Postgres';
export const WAL_FAILURE_METRIC = 'WalArchiveFailures';

export interface BackupAlarmsArgs {
  readonly env: string;
  readonly clusterArn: pulumi.Input<string>;
  readonly deadLetterQueueName: pulumi.Input<string>;
  readonly scheduleGroup: pulumi.Input<string>;
  /** Stores whose newest good backup must be younger than freshnessHours. */
  readonly stores: readonly string[];
  readonly freshnessHours: number;
  /** The database server's log group (ec2 mode): PostgreSQL logs each failed archive_command there. */
  readonly databaseLogGroup?: pulumi.Input<string>;
  readonly email?: string;
}

/**
 * Nobody is told a backup failed unless something watches for it: a
 * runbook task that stops with a non-zero exit (or never starts), a
 * scheduler that cannot start it, messages in the dead-letter queue, a
 * store whose newest good backup is older than 26 h, and failed WAL
 * archiving. Everything goes to one SNS topic.
 */
export class BackupAlarms extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;
  readonly alarms: aws.cloudwatch.MetricAlarm[] = [];

  constructor(name: string, args: BackupAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:backup:BackupAlarms', name, {}, opts);
    const child = { parent: this };
    this.topic = new aws.sns.Topic(`${name}-topic`, { kmsMasterKeyId: 'alias/aws/sns' }, child);
    if (args.email) new aws.sns.TopicSubscription(`${name}-email`, { topic: this.topic.arn, protocol: 'email', endpoint: args.email }, child);

    // Runbook containers that stop with a non-zero exit code, or tasks that fail to start.
    const rule = new aws.cloudwatch.EventRule(`${name}-task-failed`, {
      description: 'tickvault runbook task stopped with a non-zero exit or failed to start',
      eventPattern: pulumi.jsonStringify({
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: {
          clusterArn: [args.clusterArn],
          lastStatus: ['STOPPED'],
          $or: [
            { containers: { exitCode: [{ 'anything-but': 0 }] } },
            { stopCode: ['TaskFailedToStart'] },
          ],
        },
      }),
    }, child);
    new aws.cloudwatch.EventTarget(`${name}-task-failed-sns`, { rule: rule.name, arn: this.topic.arn }, child);
    new aws.sns.TopicPolicy(`${name}-topic-policy`, {
      arn: this.topic.arn,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'EventBridgePublishes', Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sns:Publish', Resource: this.topic.arn, Condition: { ArnEquals: { 'aws:SourceArn': rule.arn } } },
          { Sid: 'CloudWatchPublishes', Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: this.topic.arn },
        ],
      }),
    }, child);

    const alarm = (id: string, description: string, metric: Omit<aws.cloudwatch.MetricAlarmArgs, 'alarmActions' | 'okActions' | 'alarmDescription'>) =>
      this.alarms.push(new aws.cloudwatch.MetricAlarm(`${name}-${id}`, { ...metric, alarmDescription: description, alarmActions: [this.topic.arn], okActions: [this.topic.arn] }, child));

    alarm('dlq-depth', 'scheduled runbook invocations that could not be delivered', {
      namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: args.deadLetterQueueName },
      statistic: 'Maximum', period: 300, evaluationPeriods: 1, threshold: 0, comparisonOperator: 'GreaterThanThreshold', treatMissingData: 'notBreaching',
    });
    alarm('scheduler-target-errors', 'EventBridge Scheduler could not start a runbook task', {
      namespace: 'AWS/Scheduler', metricName: 'TargetErrorCount', dimensions: { ScheduleGroup: args.scheduleGroup },
      statistic: 'Sum', period: 300, evaluationPeriods: 1, threshold: 0, comparisonOperator: 'GreaterThanThreshold', treatMissingData: 'notBreaching',
    });
    for (const store of args.stores) {
      // Every job publishes every store's age, daily; a day without any report is
      // breaching too: runbooks that never run are as bad as a stale backup.
      alarm(`freshness-${store}`, `the newest good ${store} backup is older than ${args.freshnessHours} h`, {
        namespace: FRESHNESS_NAMESPACE, metricName: FRESHNESS_METRIC, dimensions: { Env: args.env, Store: store },
        statistic: 'Maximum', period: 86400, evaluationPeriods: 1, threshold: args.freshnessHours, comparisonOperator: 'GreaterThanThreshold', treatMissingData: 'breaching',
      });
    }
    if (args.databaseLogGroup) {
      new aws.cloudwatch.LogMetricFilter(`${name}-wal-archive-failures`, {
        logGroupName: args.databaseLogGroup,
        // PostgreSQL's own message for a failed archive_command (pgBackRest archive-push).
        pattern: '"archive command failed"',
        metricTransformation: { namespace: WAL_NAMESPACE, name: WAL_FAILURE_METRIC, value: '1', defaultValue: '0' },
      }, child);
      alarm('wal-archive-failures', 'WAL archiving to the backup bucket is failing: pg_wal will fill the disk', {
        namespace: WAL_NAMESPACE, metricName: WAL_FAILURE_METRIC, statistic: 'Sum', period: 300, evaluationPeriods: 1, threshold: 0, comparisonOperator: 'GreaterThanThreshold', treatMissingData: 'notBreaching',
      });
    }
    this.registerOutputs({ topic: this.topic.arn, alarms: this.alarms.map((a) => a.name), rule: rule.arn });
  }
}
