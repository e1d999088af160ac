import type { Config } from '../core/config.ts';
import { SGD, type TrainRequest } from '../core/learn/compute.ts';

/** Local training as the room's config describes it: its epochs or steps, batch and learning rate, plain SGD. */
export function roomTraining(config: Config, params: Float32Array): TrainRequest {
  return { kind: 'train', params, epochs: config.epochs, steps: config.steps, batch: config.batch, lr: config.lr, optimizer: SGD };
}

/** The compute id of the training for round `round`: a result is used only if its id is the one still awaited. */
export const trainId = (round: number): string => `train:${round}`;
