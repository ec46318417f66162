export { schedule, needsScheduling } from './scheduler.js';
export {
  defaultFilters, filterNodes, nodesPhrase,
  ReadyFilter, ConstraintFilter, CpuFilter, MemoryFilter, HostPortFilter, MaxReplicasFilter,
  type Filter, type FilterResult,
} from './filters.js';
export { DeviceFilter, PlatformFilter, RuntimeFilter } from './filters.js';
export { validateConstraint, parseConstraint, parseConstraints, matchConstraint, matchConstraints, nodeSatisfies, nodeAttribute, type Constraint } from '../../common/api/constraint.js';
export { buildNodeInfos, holdsNode, type NodeInfo } from './nodeinfo.js';
export { rankNodes, pickNode } from './rank.js';
