// Package im.message.v1 is spread over several proto files; this gathers their
// generated modules into the one `messageV1` namespace. Every generated module
// also exports its own helpers (protobufPackage, protobufFileName, MessageFns,
// DeepPartial); the ones of message.proto are the namespace's.
export * from '../gen/im/message/v1/message.js';
export {
  GroupEvent,
  GroupRole,
  groupRoleFromJSON,
  groupRoleToJSON,
  GroupJoinPolicy,
  groupJoinPolicyFromJSON,
  groupJoinPolicyToJSON,
  GroupCreated,
  GroupRenamed,
  GroupNoticeChanged,
  GroupAnnouncementChanged,
  GroupMembersInvited,
  GroupMemberJoined,
  GroupJoinRequested,
  GroupJoinApproved,
  GroupJoinDeclined,
  GroupMemberLeft,
  GroupMemberKicked,
  GroupMemberRoleChanged,
  GroupOwnerTransferred,
  GroupMemberMuted,
  GroupMemberUnmuted,
  GroupMuteAllChanged,
  GroupAvatarChanged,
  GroupDissolved,
  GroupSettingsChanged,
} from '../gen/im/message/v1/group_event.js';
