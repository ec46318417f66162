// Original file: proto/dispatcher.proto


export interface PushImageResponse {
}

export interface PushImageResponse__Output {
}
