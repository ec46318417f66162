// A minimal valid normalised service and stack, as the API receives them: tests change one
// value and expect the validator to name it.
import { defaultDeploy, type ServiceSpec, type StackSpec } from '../../../common/spec.js';

export const service = (): ServiceSpec => ({
  image: 'nginx:1.27',
  environment: {},
  labels: {},
  ports: [],
  volumes: [],
  networks: { default: { aliases: [] } },
  depends_on: {},
  deploy: defaultDeploy(),
});

export const network = () => ({ driver: 'overlay', external: false, labels: {}, driver_opts: {} });
export const volume = () => ({ driver: 'local', external: false, labels: {}, driver_opts: {} });

export const stack = (volumes: StackSpec['volumes'] = {}): StackSpec => ({
  name: 'app',
  services: { web: service() },
  networks: { default: network() },
  volumes,
});
