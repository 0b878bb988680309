// The CrossGuard pack: `pulumi preview --policy-pack infra/policy`.
import { PolicyPack } from '@pulumi/policy';
import { policies } from './policies';

new PolicyPack('tickvault-guardrails', { policies });
