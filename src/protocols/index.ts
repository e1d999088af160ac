import { diloco } from './diloco/module.ts';
import { dpsgd } from './dpsgd/module.ts';
import { fedamd } from './fedamd/module.ts';
import { fedavg } from './fedavg/module.ts';
import { fedbuff } from './fedbuff/module.ts';
import { gossip } from './gossip/module.ts';
import { modest } from './modest/module.ts';
import { registerProtocol } from './registry.ts';
import { spsa } from './spsa/module.ts';
import { token } from './token/module.ts';

/** The built-in algorithms: adding one is its folder plus one line here. */
registerProtocol(fedavg);
registerProtocol(modest);
registerProtocol(gossip);
registerProtocol(dpsgd);
registerProtocol(spsa);
registerProtocol(diloco);
registerProtocol(fedbuff);
registerProtocol(token);
registerProtocol(fedamd);

export { allProtocols, allVariants, algoTag, initMode, protocolFor, registerProtocol } from './registry.ts';
