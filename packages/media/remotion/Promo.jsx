import { AbsoluteFill, Img, interpolate, spring, useCurrentFrame, useVideoConfig } from 'remotion';

// Everything here is a pure function of the frame number and the props: no clocks, no randomness, no network
// other than the job's own frame server. That is what makes two renders of one capture identical.
// The title card sits on the first captured frame and the end card on the last: the cuts into and out of gameplay
// are seamless, and the title can render while the rest of the game is still being captured.
// Styling avoids blur filters and large blurred shadows: in software rendering they cost more than the rest combined.

const FONT = '"Noto Sans CJK JP", "DejaVu Sans", "Liberation Sans", sans-serif, "Noto Color Emoji"';

const frameUrl = (props, index) => {
  const clamped = Math.max(0, Math.min(props.frameCount - 1, index));
  return `${props.framesBaseUrl}${String(clamped).padStart(5, '0')}.${props.frameExtension}`;
};

/** The captured frame shown at composition frame `frame` of the gameplay section (frames are held at captureFps). */
const captureIndex = (props, frame) => Math.floor(((frame - props.titleFrames) * props.captureFps) / props.fps);

const Backdrop = ({ props, index, dim }) => (
  <AbsoluteFill style={{ backgroundColor: '#0b0b1a' }}>
    {props.frameCount > 0 ? <Img src={frameUrl(props, index)} style={{ width: '100%', height: '100%', objectFit: 'cover' }} /> : null}
    <AbsoluteFill
      style={{
        background: `linear-gradient(180deg, rgba(12,10,40,${dim}) 0%, rgba(40,12,70,${dim}) 100%)`,
      }}
    />
  </AbsoluteFill>
);

const Card = ({ title, line, size, enter, accent }) => {
  const { width, height } = useVideoConfig();
  const unit = Math.min(width, height);
  return (
    <AbsoluteFill style={{ justifyContent: 'center', alignItems: 'center', fontFamily: FONT, color: 'white' }}>
      <div
        style={{
          maxWidth: '86%',
          textAlign: 'center',
          fontWeight: 800,
          fontSize: unit * size,
          lineHeight: 1.15,
          transform: `scale(${interpolate(enter, [0, 1], [0.82, 1])})`,
          opacity: enter,
          textShadow: `0 ${unit * 0.006}px 0 rgba(0,0,0,0.45)`,
          overflowWrap: 'anywhere',
        }}
      >
        {title}
      </div>
      <div
        style={{
          marginTop: unit * 0.045,
          padding: `${unit * 0.014}px ${unit * 0.04}px`,
          borderRadius: unit,
          fontSize: unit * 0.042,
          fontWeight: 700,
          background: accent,
          opacity: enter,
          transform: `translateY(${interpolate(enter, [0, 1], [unit * 0.05, 0])}px)`,
        }}
      >
        {line}
      </div>
    </AbsoluteFill>
  );
};

export const Promo = (props) => {
  const frame = useCurrentFrame();
  const { fps } = useVideoConfig();
  const gameplayStart = props.titleFrames;
  const endStart = props.titleFrames + props.gameplayFrames;
  const fade = props.fadeFrames;

  if (frame < gameplayStart - fade) {
    const enter = spring({ frame, fps, config: { damping: 14, mass: 0.6 } });
    return (
      <AbsoluteFill>
        <Backdrop props={props} index={0} dim={0.72} />
        <Card title={props.title} line={props.subtitle} size={0.1} enter={enter} accent="#ff3d7f" />
      </AbsoluteFill>
    );
  }

  if (frame < endStart) {
    // The title card fades out over its last frames, uncovering the first gameplay frame underneath.
    const titleOpacity = interpolate(frame, [gameplayStart - fade - 1, gameplayStart], [1, 0], {
      extrapolateLeft: 'clamp',
      extrapolateRight: 'clamp',
    });
    const enter = 1;
    return (
      <AbsoluteFill style={{ backgroundColor: '#0b0b1a' }}>
        <Img src={frameUrl(props, Math.max(0, captureIndex(props, frame)))} style={{ width: '100%', height: '100%', objectFit: 'cover' }} />
        {titleOpacity > 0 ? (
          <AbsoluteFill style={{ opacity: titleOpacity }}>
            <Backdrop props={props} index={0} dim={0.72} />
            <Card title={props.title} line={props.subtitle} size={0.1} enter={enter} accent="#ff3d7f" />
          </AbsoluteFill>
        ) : null}
      </AbsoluteFill>
    );
  }

  const enter = spring({ frame: frame - endStart, fps, config: { damping: 14, mass: 0.6 } });
  return (
    <AbsoluteFill>
      <Backdrop props={props} index={props.frameCount - 1} dim={interpolate(enter, [0, 1], [0.2, 0.86])} />
      <Card title={props.title} line={props.callToAction} size={0.085} enter={enter} accent="#2d8cff" />
    </AbsoluteFill>
  );
};
