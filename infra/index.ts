// The Pulumi program: config -> target -> exported outputs; nothing else.
import { loadConfig } from './config';
import { awsStack } from './targets/aws';
import { dockerStack } from './targets/docker';

const config = loadConfig();
const stack = config.target === 'aws' ? awsStack(config) : dockerStack(config);

export const postgres = stack.postgres;
export const redis = stack.redis;
export const qdrant = stack.qdrant;
export const s3 = stack.s3;
export const backupRepo = stack.backupRepo;
export const envVault = stack.envVault;
export const alarmTopic = stack.alarmTopic;
export const bucketSetupExitCode = stack.bucketSetupExitCode;
