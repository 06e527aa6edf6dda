import { mediaFactsFromFfprobe } from './media-probe';

describe('mediaFactsFromFfprobe', () => {
  it('takes duration, container, codecs, dimensions and rates', () => {
    expect(
      mediaFactsFromFfprobe({
        format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '1.0234', bit_rate: '64000' },
        streams: [
          { codec_type: 'video', codec_name: 'mjpeg', width: 10, height: 10, disposition: { attached_pic: 1 } },
          { codec_type: 'video', codec_name: 'h264', width: 640, height: 360, avg_frame_rate: '30000/1001' },
          { codec_type: 'audio', codec_name: 'aac', sample_rate: '48000', channels: 2 },
        ],
      }),
    ).toEqual({
      'media:duration_seconds': '1.023',
      'media:container': 'mov,mp4,m4a,3gp,3g2,mj2',
      'media:bit_rate': '64000',
      'media:video_codec': 'h264',
      'media:width': '640',
      'media:height': '360',
      'media:frame_rate': '29.97',
      'media:audio_codec': 'aac',
      'media:audio_sample_rate': '48000',
      'media:audio_channels': '2',
    });
  });
  it('returns nothing for an empty answer', () => {
    expect(mediaFactsFromFfprobe({})).toEqual({});
  });
});
