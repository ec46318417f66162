import { describe, expect, it } from 'vitest';
import { builtImageLabels } from '../../../cli/build.js';
import { LABEL } from '../../../agent/exec/container.js';

describe('the labels of a built image', () => {
  it('name the stack and the service as its containers do (what the agent prunes by)', () => {
    expect(builtImageLabels('shop', 'web')).toEqual({ [LABEL.stack]: 'shop', [LABEL.serviceName]: 'shop_web' });
  });
});
