import { createContext, useContext } from 'react';
import type { Principal, Role } from './api';

export interface Auth {
  me: Principal | null;
  can: (need: Role) => boolean;
  signIn: (p: Principal, token: string, remember: boolean) => void;
  signOut: () => void;
}

export const AuthContext = createContext<Auth>({ me: null, can: () => false, signIn: () => {}, signOut: () => {} });

export function useAuth() {
  return useContext(AuthContext);
}
