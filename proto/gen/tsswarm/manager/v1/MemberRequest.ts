// Original file: proto/manager.proto


export interface MemberRequest {
}

export interface MemberRequest__Output {
}
