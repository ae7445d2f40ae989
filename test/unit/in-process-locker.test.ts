import { InProcessLocker } from '../../src/locking/in-process-locker.js';
import { describeLockerContract } from '../support/locker-contract.js';

describeLockerContract('InProcessLocker', (options) => ({ locker: new InProcessLocker(options) }));
