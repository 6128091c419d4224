import { Composition } from 'remotion';
import { Promo } from './Promo.jsx';

// Placeholder values only: every real render passes complete inputProps, and calculateMetadata takes the
// duration, size and fps from them, so one bundle serves every request.
const defaultProps = {
  title: 'DreamCore',
  subtitle: 'Made with DreamCore',
  callToAction: 'Play now',
  framesBaseUrl: '',
  frameCount: 0,
  frameExtension: 'jpg',
  captureFps: 15,
  fps: 30,
  width: 1280,
  height: 720,
  titleFrames: 30,
  gameplayFrames: 150,
  endFrames: 30,
  fadeFrames: 6,
};

const calculateMetadata = ({ props }) => ({
  durationInFrames: props.titleFrames + props.gameplayFrames + props.endFrames,
  fps: props.fps,
  width: props.width,
  height: props.height,
});

export const Root = () => (
  <Composition
    id="Promo"
    component={Promo}
    defaultProps={defaultProps}
    calculateMetadata={calculateMetadata}
    durationInFrames={defaultProps.titleFrames + defaultProps.gameplayFrames + defaultProps.endFrames}
    fps={defaultProps.fps}
    width={defaultProps.width}
    height={defaultProps.height}
  />
);
