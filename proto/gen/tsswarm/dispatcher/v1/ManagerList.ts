// Original file: proto/dispatcher.proto


export interface ManagerList {
  'managers'?: (string)[];
}

export interface ManagerList__Output {
  'managers': (string)[];
}
