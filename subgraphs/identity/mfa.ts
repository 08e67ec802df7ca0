import { authenticator } from 'otplib';

// One step of clock drift either way.
authenticator.options = { window: 1 };

export const newTotpSecret = () => authenticator.generateSecret(20);
export const otpauthUrl = (email: string, secret: string) => authenticator.keyuri(email, 'MindWeave', secret);
export const verifyTotp = (secret: string, code: string) => authenticator.check(code, secret);
