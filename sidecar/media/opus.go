package media

// opusSilentBytes is the payload size at or below which an Opus packet
// carries no sound: a discontinuous-transmission comfort packet or a frame
// of digital silence is one to three bytes (the TOC byte and at most two of
// range coder; RFC 6716 section 3, and libopus's DTX), while speech or music
// at any bitrate WebRTC uses takes tens of bytes per 20 ms.
const opusSilentBytes = 3
