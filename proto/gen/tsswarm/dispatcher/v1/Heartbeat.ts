// Original file: proto/dispatcher.proto


export interface Heartbeat {
}

export interface Heartbeat__Output {
}
