// Worker entry: Node 20 ignores `--import tsx` for a worker's own entry module, so register tsx here, then load the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
