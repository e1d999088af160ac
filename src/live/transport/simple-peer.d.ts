// The package's own browser bundle needs no Node globals under Vite (see README).
declare module 'simple-peer/simplepeer.min.js' {
  import SimplePeer from 'simple-peer';
  export default SimplePeer;
}
